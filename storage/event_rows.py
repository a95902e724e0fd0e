"""An event's own rows: the event (inserted or updated in place), one occurrence per
arrival, and the events held below a threshold that join the incident it opened."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.records import Event
from rules.decision import Decision, State, StoredStatus, stored_status
from storage.atomic import QueryRunner
from storage.batched import insert_id
from storage.incident_state import marks
from storage.rollup import DayTally
from storage.sql import Sql
from storage.timeline import note

_TRANSITIONS_KEPT = 50
_TRANSITION = {StoredStatus.FIRING, StoredStatus.RESOLVED}  # a change either way
_TRANSITION_HORIZON = timedelta(hours=2)


async def upsert_event(
    connection: QueryRunner,
    sql: Sql,
    event: Event,
    decision: Decision,
    state: State,
    incident_id: int | None,
    intake_id: int | None,
    now: datetime,
    tally: DayTally,
) -> int:
    fields = decision.incident
    common = [
        event.severity.value,
        stored_status(event, decision).value,
        event.summary,
        event.description,
        sql.json(dict(event.labels)),
        event.url,
        decision.outcome.value,
        decision.suppressed_by[:128],
        decision.flapping,
        decision.correlation_key[:255],
        incident_id,
        intake_id,
        (fields.service or event.service)[:256],
        (fields.ci or event.ci)[:256],
        (fields.environment or event.environment)[:64],
    ]
    if state.event is None:
        tally.event(
            {
                "source": event.source[:64],
                "kind": event.kind[:32],
                "name": event.name[:512],
                "resource": event.resource[:512],
                "count": 1,
                "first_seen": now,
                "last_seen": now,
            }
        )
        return await insert_id(
            connection,
            sql(
                "INSERT INTO events (severity, status, summary, description, labels, url, "
                "last_outcome, suppressed_by, flapping, correlation_key, incident_id, "
                "last_intake_id, service, ci, environment, fingerprint, source, kind, name, "
                "resource, count, first_seen, last_seen, transitions) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, '[]')"
            ),
            [
                *common,
                decision.fingerprint[:128],
                event.source[:64],
                event.kind[:32],
                event.name[:512],
                event.resource[:512],
                sql.time(now),
                sql.time(now),
            ],
        )
    stored = state.event
    before = {
        "source": stored.source,
        "kind": stored.kind,
        "name": stored.name,
        "resource": stored.resource,
        "count": stored.count,
        "first_seen": stored.first_seen,
        "last_seen": stored.last_seen,
    }
    tally.event(before, -1)  # the row as it was out, as it will be in
    tally.event({**before, "count": stored.count + 1, "last_seen": now})
    transitions = [moment for moment in stored.transitions if now - moment < _TRANSITION_HORIZON]
    if {stored.status, stored_status(event, decision)} == _TRANSITION:
        transitions.append(now)
    await connection.execute_query(
        sql(
            "UPDATE events SET severity = ?, status = ?, summary = ?, description = ?, "
            "labels = ?, url = ?, last_outcome = ?, suppressed_by = ?, flapping = ?, "
            "correlation_key = ?, incident_id = ?, last_intake_id = ?, service = ?, ci = ?, "
            "environment = ?, count = count + 1, last_seen = ?, transitions = ? WHERE id = ?"
        ),
        [
            *common,
            sql.time(now),
            sql.json([moment.isoformat() for moment in transitions[-_TRANSITIONS_KEPT:]]),
            stored.id,
        ],
    )
    return stored.id


async def record_occurrence(
    connection: QueryRunner,
    sql: Sql,
    event_id: int,
    decision: Decision,
    incident_id: int | None,
    intake_id: int | None,
    now: datetime,
    tally: DayTally,
) -> int:
    tally.occurrence(decision.outcome.value, now)
    return await insert_id(
        connection,
        sql(
            "INSERT INTO occurrences (event_id, fingerprint, correlation_key, incident_id, "
            "intake_id, outcome, at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        ),
        [
            event_id,
            decision.fingerprint[:128],
            decision.correlation_key[:255],
            incident_id,
            intake_id,
            decision.outcome.value,
            sql.time(now),
        ],
    )


async def adopt_pending(
    connection: QueryRunner,
    sql: Sql,
    decision: Decision,
    incident_id: int | None,
    event_id: int,
    now: datetime,
) -> None:
    """Events held below a threshold join the incident the threshold opened."""
    if incident_id is None or decision.adopt_pending_since is None:
        return
    rows = await connection.execute_query_dict(
        sql(
            "SELECT id, count, status FROM events WHERE correlation_key = ? "
            "AND incident_id IS NULL AND last_outcome = 'pending' AND last_seen >= ? "
            "AND id <> ?"
        ),
        [decision.correlation_key, sql.time(decision.adopt_pending_since), event_id],
    )
    if not rows:
        return
    ids = [int(row["id"]) for row in rows]
    firing = sum(1 for row in rows if row["status"] == "firing")
    occurrences = sum(int(row["count"]) for row in rows)
    await connection.execute_query(
        sql(f"UPDATE events SET incident_id = ? WHERE id IN ({marks(ids)})"),
        [incident_id, *ids],
    )
    await connection.execute_query(
        sql(
            "UPDATE incidents SET event_count = event_count + ?, "
            "firing_events = firing_events + ? WHERE id = ?"
        ),
        [occurrences, firing, incident_id],
    )
    await note(
        connection,
        sql,
        incident_id,
        now,
        "events_adopted",
        f"{len(ids)} earlier events below the threshold joined",
    )
