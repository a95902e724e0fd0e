"""Loading the rule engine's State and applying its Decision, in one transaction.

The rule engine is pure; this module is where its decisions become rows. It
is the pipeline's hot path, so it speaks SQL directly (a handful of short
statements per event) instead of going through ORM objects.

Concurrency (several replicas on one PostgreSQL): the event row is locked
(``FOR UPDATE``) while its decision is made; counters are updated relative
to the stored value; uniqueness (``events.fingerprint``,
``incidents.open_key``) turns a lost race into IntegrityError, and the
pipeline then evaluates the event again against the state the winner left.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from parsers.records import Event, EventStatus, Severity
from rules.decision import (
    Decision,
    EventOutcome,
    EventState,
    FiringEvent,
    IncidentAction,
    IncidentState,
    IncidentStatus,
    Lookup,
    Priority,
    SilenceState,
    State,
)
from storage.answers import RequesterAnswers
from storage.atomic import QueryRunner
from storage.batched import Batched, write_returning
from storage.database import Database
from storage.forwarding import count_occurrence, queue
from storage.readahead import UNKNOWN, ReadAhead, Row, Unknown
from storage.sql import Sql, as_json, as_time

_TRANSITIONS_KEPT = 50
_TRANSITION_HORIZON = timedelta(hours=2)
_RELATED_LIMIT = 50
_FIRING_SOURCES_PER_QUERY = 20

_EVENT_COLUMNS = (
    "id, fingerprint, status, severity, count, first_seen, last_seen, incident_id, "
    "flapping, transitions"
)
_INCIDENT_COLUMNS = (
    "id, key, status, priority, correlation_key, created_at, updated_at, resolved_at, "
    "firing_events, ci, event_count, resolve_after"
)


def incident_key(incident_id: int) -> str:
    """The human ticket number put in mail subjects: INC-000123."""
    return f"INC-{incident_id:06d}"


@dataclass(frozen=True, slots=True)
class Applied:
    event_id: int
    incident_id: int | None
    incident_key: str | None
    outcome: EventOutcome
    action: IncidentAction


def incident_state(row: Mapping[str, Any]) -> IncidentState:
    return IncidentState(
        id=int(row["id"]),
        key=row["key"] or incident_key(int(row["id"])),
        status=IncidentStatus(row["status"]),
        priority=Priority(row["priority"]),
        correlation_key=row["correlation_key"],
        created_at=_required_time(row["created_at"]),
        updated_at=_required_time(row["updated_at"]),
        resolved_at=as_time(row["resolved_at"]),
        firing_events=int(row["firing_events"]),
        ci=row["ci"] or "",
        event_count=int(row["event_count"]),
        resolve_after=as_time(row["resolve_after"]),
    )


def _required_time(value: Any) -> datetime:
    found = as_time(value)
    if found is None:
        raise ValueError("a required time column is NULL")
    return found


def _event_state(row: Mapping[str, Any]) -> EventState:
    transitions = as_json(row["transitions"]) or []
    return EventState(
        id=int(row["id"]),
        fingerprint=row["fingerprint"],
        status=EventStatus(row["status"]),
        severity=Severity(row["severity"]),
        count=int(row["count"]),
        first_seen=_required_time(row["first_seen"]),
        last_seen=_required_time(row["last_seen"]),
        incident_id=int(row["incident_id"]) if row["incident_id"] is not None else None,
        flapping=bool(row["flapping"]),
        transitions=tuple(_required_time(item) for item in transitions),
    )


async def active_silences(
    connection: QueryRunner, sql: Sql, now: datetime
) -> tuple[SilenceState, ...]:
    rows = await connection.execute_query_dict(
        sql(
            "SELECT id, matchers, starts_at, ends_at FROM silences "
            "WHERE starts_at <= ? AND ends_at > ? AND expired_at IS NULL"
        ),
        [sql.time(now), sql.time(now)],
    )
    return tuple(
        SilenceState(
            id=int(row["id"]),
            matchers=tuple((m["name"], m["op"], m["value"]) for m in as_json(row["matchers"])),
            starts_at=_required_time(row["starts_at"]),
            ends_at=_required_time(row["ends_at"]),
        )
        for row in rows
    )


# attachments listed on a timeline entry, at most (a mail may carry thousands of parts)
_TIMELINE_ATTACHMENTS = 100


class IncidentStore:
    def __init__(self, db: Database, answers: RequesterAnswers | None = None) -> None:
        """``answers``: the mailboxes that acknowledge a mail opening an incident."""
        self._db = db
        self.sql = Sql(db.dialect)
        self._answers = answers

    # -- State -------------------------------------------------------------

    async def read_ahead(self, connection: QueryRunner, lookups: Iterable[Lookup]) -> ReadAhead:
        """The event and open-incident rows of a batch's events, in two statements."""
        fingerprints = list(dict.fromkeys(lookup.fingerprint for lookup in lookups))
        keys = list(dict.fromkeys(lookup.correlation_key for lookup in lookups))
        if not fingerprints:
            return ReadAhead.of((), (), (), ())
        lock = self.sql.for_update()
        event_rows = await connection.execute_query_dict(
            self.sql(
                f"SELECT {_EVENT_COLUMNS} FROM events "
                f"WHERE fingerprint IN ({_marks(fingerprints)}) ORDER BY id{lock}"
            ),
            fingerprints,
        )
        incident_rows = await connection.execute_query_dict(
            self.sql(
                f"SELECT {_INCIDENT_COLUMNS}, open_key FROM incidents "
                f"WHERE open_key IN ({_marks(keys)}) ORDER BY id{lock}"
            ),
            keys,
        )
        return ReadAhead.of(fingerprints, keys, event_rows, incident_rows)

    async def load_state(
        self,
        connection: QueryRunner,
        lookup: Lookup,
        silences: tuple[SilenceState, ...],
        ahead: ReadAhead | None = None,
    ) -> State:
        sql = self.sql
        event_row = await self._known_or_read(
            ahead.event(lookup.fingerprint) if ahead is not None else UNKNOWN,
            connection,
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE fingerprint = ?{sql.for_update()}",
            lookup.fingerprint,
        )
        # locked too: the decision is made on, and its update written over, the
        # incident as it is (a person's acknowledgement or the periodic job's
        # resolution committed meanwhile would otherwise be written back over)
        incident_row = await self._known_or_read(
            ahead.incident(lookup.correlation_key) if ahead is not None else UNKNOWN,
            connection,
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE open_key = ?{sql.for_update()}",
            lookup.correlation_key,
        )
        if incident_row is None and event_row is not None and event_row["incident_id"]:
            incident_row = await self._one(
                connection,
                f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?{sql.for_update()}",
                [event_row["incident_id"]],
            )
        return State(
            event=_event_state(event_row) if event_row else None,
            incident=incident_state(incident_row) if incident_row else None,
            referenced=await self._referenced(connection, lookup),
            silences=silences,
            ancestor_incidents=await self._ancestors(connection, lookup),
            recent_count=await self._recent_count(connection, lookup),
            recent_incidents=await self._recent_incidents(connection, lookup),
            firing_sources=await self._firing_sources(connection, lookup),
        )

    async def _known_or_read(
        self, known: Row | Unknown | None, connection: QueryRunner, statement: str, key: str
    ) -> Row | None:
        """The row read ahead, or, when there is none to trust, the row read now."""
        if isinstance(known, Unknown):
            return await self._one(connection, statement, [key])
        return known

    async def _one(
        self, connection: QueryRunner, statement: str, values: list[Any]
    ) -> dict[str, Any] | None:
        rows = await connection.execute_query_dict(self.sql(statement), values)
        return rows[0] if rows else None

    async def _incidents_where(
        self, connection: QueryRunner, condition: str, values: list[Any]
    ) -> tuple[IncidentState, ...]:
        rows = await connection.execute_query_dict(
            self.sql(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE {condition}"), values
        )
        return tuple(incident_state(row) for row in rows)

    async def _referenced(
        self, connection: QueryRunner, lookup: Lookup
    ) -> tuple[IncidentState, ...]:
        found: tuple[IncidentState, ...] = ()
        if lookup.incident_keys or lookup.message_ids:
            keys = [key.upper() for key in lookup.incident_keys] or [""]
            ids = list(lookup.message_ids) or [""]
            found = await self._incidents_where(
                connection,
                f"key IN ({_marks(keys)}) OR id IN (SELECT incident_id FROM mail_threads "
                f"WHERE message_id IN ({_marks(ids)})) ORDER BY id DESC",
                [*keys, *ids],
            )
        reply = lookup.reply_by_subject
        if found or reply is None:
            return found
        # a reply that lost its key and References: the sender's mail of that subject
        return await self._incidents_where(
            connection,
            "id IN (SELECT incident_id FROM events WHERE source = ? AND resource = ? "
            "AND name = ? AND incident_id IS NOT NULL AND last_seen >= ? "
            "ORDER BY id DESC LIMIT 1)",
            [reply.source, reply.sender, reply.name, self.sql.time(reply.since)],
        )

    async def _ancestors(
        self, connection: QueryRunner, lookup: Lookup
    ) -> tuple[IncidentState, ...]:
        if not lookup.ancestor_cis:
            return ()
        cis = list(lookup.ancestor_cis)
        return await self._incidents_where(
            connection, f"ci IN ({_marks(cis)}) AND status IN ('new', 'acknowledged')", cis
        )

    async def _recent_count(self, connection: QueryRunner, lookup: Lookup) -> int:
        if lookup.count_since is None:
            return 0
        row = await self._one(
            connection,
            "SELECT COUNT(*) AS n FROM occurrences WHERE correlation_key = ? AND at >= ?",
            [lookup.correlation_key, self.sql.time(lookup.count_since)],
        )
        return int(row["n"]) if row else 0

    async def _recent_incidents(self, connection: QueryRunner, lookup: Lookup) -> tuple[int, ...]:
        if lookup.recent_incidents_since is None:
            return ()
        rows = await connection.execute_query_dict(
            self.sql(
                "SELECT id FROM incidents WHERE created_at >= ? AND ((ci = ? AND ci <> '') "
                "OR id IN (SELECT incident_id FROM occurrences WHERE fingerprint = ? "
                "AND incident_id IS NOT NULL)) ORDER BY id DESC LIMIT ?"
            ),
            [
                self.sql.time(lookup.recent_incidents_since),
                lookup.ci,
                lookup.fingerprint,
                _RELATED_LIMIT,
            ],
        )
        return tuple(int(row["id"]) for row in rows)

    async def _firing_sources(
        self, connection: QueryRunner, lookup: Lookup
    ) -> tuple[FiringEvent, ...]:
        found: dict[str, FiringEvent] = {}
        for query in lookup.inhibit_queries:
            condition, values = self._labels_contain(query.labels)
            rows = await connection.execute_query_dict(
                self.sql(
                    "SELECT fingerprint, source, name, resource, severity, service, ci, labels "
                    f"FROM events WHERE status = 'firing' AND suppressed_by = '' {condition} "
                    "LIMIT ?"
                ),
                [*values, _FIRING_SOURCES_PER_QUERY],
            )
            for row in rows:
                found[row["fingerprint"]] = FiringEvent(
                    fingerprint=row["fingerprint"],
                    source=row["source"],
                    name=row["name"],
                    resource=row["resource"],
                    severity=Severity(row["severity"]),
                    service=row["service"],
                    ci=row["ci"],
                    labels=as_json(row["labels"]) or {},
                )
        return tuple(found.values())

    def _labels_contain(self, pairs: Iterable[tuple[str, str]]) -> tuple[str, list[Any]]:
        pairs = list(pairs)
        if not pairs:
            return "", []
        if self.sql.postgres:
            return "AND labels @> ?::jsonb", [self.sql.json(dict(pairs))]
        parts = []
        values: list[Any] = []
        for name, value in pairs:
            parts.append("AND json_extract(labels, ?) = ?")
            values.extend([_json_path(name), value])
        return " ".join(parts), values

    # -- Decision ----------------------------------------------------------

    async def apply(
        self,
        connection: QueryRunner,
        event: Event,
        decision: Decision,
        state: State,
        intake_id: int | None,
        now: datetime,
        ahead: ReadAhead | None = None,
    ) -> Applied:
        """Write the decision; ``ahead``, if the state came from it, learns what changed."""
        if ahead is not None:
            ahead.wrote(
                fingerprints=(decision.fingerprint,),
                keys=(decision.correlation_key,),
                incidents=(decision.incident_id, state.incident.id if state.incident else None),
            )
        # on PostgreSQL the writes go to the server a few at a time: see storage.batched
        runner: QueryRunner = Batched(connection) if self.sql.postgres else connection
        incident_id, key, changes = await self._apply_incident(runner, event, decision, state, now)
        if incident_id is None and state.event is not None:
            incident_id = state.event.incident_id  # e.g. a suppressed repeat keeps its link
        if incident_id is None and decision.outcome is EventOutcome.IGNORED:
            incident_id = decision.incident_id  # e.g. a bounce of the incident's mail
        event_id = await self._upsert_event(
            runner, event, decision, state, incident_id, intake_id, now
        )
        occurrence_id = await self._record_occurrence(
            runner, event_id, decision, incident_id, intake_id, now
        )
        if incident_id is not None and decision.action is not IncidentAction.NONE:
            await self._notes(runner, incident_id, decision, now)
            await self._record_thread(runner, event, incident_id, now)
            await self._queue_routes(
                runner, incident_id, event, decision, occurrence_id, changes, now
            )
            if decision.action is IncidentAction.OPEN and self._answers is not None:
                await self._answers.queue_answer(runner, self.sql, incident_id, event, now)
        elif incident_id is not None and decision.notes:  # noted, nothing changed or forwarded
            await self._notes(runner, incident_id, decision, now)
        if decision.action is IncidentAction.OPEN and decision.adopt_pending_since is not None:
            await self._adopt_pending(runner, decision, incident_id, event_id, now)
            if ahead is not None:
                ahead.wrote_anything()  # other events joined the incident
        if isinstance(runner, Batched):
            await runner.flush()
        return Applied(
            event_id=event_id,
            incident_id=incident_id,
            incident_key=key,
            outcome=decision.outcome,
            action=decision.action,
        )

    async def _apply_incident(
        self,
        connection: QueryRunner,
        event: Event,
        decision: Decision,
        state: State,
        now: datetime,
    ) -> tuple[int | None, str | None, dict[str, list[str]]]:
        action = decision.action
        if action is IncidentAction.OPEN:
            incident_id, key = await self._open(connection, event, decision, now)
            return incident_id, key, {}
        if action is IncidentAction.NONE or decision.incident_id is None:
            return None, None, {}
        current = state.incident if _same(state.incident, decision.incident_id) else None
        if current is None:
            # a referenced or ancestor incident was read without a lock: read it again,
            # locked, so that the update starts from what is stored now
            row = await self._one(
                connection,
                f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?{self.sql.for_update()}",
                [decision.incident_id],
            )
            if row is None:
                raise LookupError(f"decision names incident {decision.incident_id}, which is gone")
            current = incident_state(row)
        changes = await self._update_incident(connection, event, decision, state, current, now)
        return current.id, current.key, changes

    async def _open(
        self, connection: QueryRunner, event: Event, decision: Decision, now: datetime
    ) -> tuple[int, str]:
        sql = self.sql
        fields = decision.incident
        sla = decision.sla
        rows = await write_returning(
            connection,
            sql(
                "INSERT INTO incidents (title, type, status, priority, impact, urgency, major, "
                "service, ci, environment, category, assignment_group, requester, owner, "
                "correlation_key, open_key, event_count, firing_events, response_due, "
                "resolution_due, response_breached, resolution_breached, linked_incident_id, "
                "problem_candidate, related_incidents, routes, escalated, created_at, updated_at) "
                "VALUES (?, ?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, "
                "?, ?, ?, ?, ?, ?, '[]', ?, ?) RETURNING id"
            ),
            [
                fields.title[:512],
                fields.type.value,
                fields.priority.value,
                fields.impact,
                fields.urgency,
                fields.major,
                fields.service[:256],
                fields.ci[:256],
                fields.environment[:64],
                fields.category[:128],
                fields.assignment_group[:128],
                fields.requester[:320],
                fields.owner[:128],
                decision.correlation_key[:255],
                decision.correlation_key[:255],
                1 if event.status is EventStatus.FIRING else 0,
                sql.time(sla.response_due if sla else None),
                sql.time(sla.resolution_due if sla else None),
                False,
                False,
                decision.linked_incident_id,
                decision.problem_candidate,
                sql.json(list(decision.related_incident_ids)),
                sql.json(list(decision.routes)),
                sql.time(now),
                sql.time(now),
            ],
        )
        incident_id = int(rows[0]["id"])
        key = incident_key(incident_id)
        await connection.execute_query(
            sql("UPDATE incidents SET key = ? WHERE id = ?"), [key, incident_id]
        )
        await self.note(
            connection,
            incident_id,
            now,
            "opened",
            event.summary,
            data={
                "priority": fields.priority.value,
                "rules": ",".join(decision.matched_rules),
                **_mail_data(event),
            },
        )
        if decision.linked_incident_id is not None:
            await self.note(
                connection,
                incident_id,
                now,
                "linked",
                f"follows {incident_key(decision.linked_incident_id)}",
                data={"incident_id": decision.linked_incident_id},
            )
        return incident_id, key

    async def _update_incident(
        self,
        connection: QueryRunner,
        event: Event,
        decision: Decision,
        state: State,
        current: IncidentState,
        now: datetime,
    ) -> dict[str, list[str]]:
        sql = self.sql
        action = decision.action
        firing = event.status is EventStatus.FIRING
        member = state.event is not None and state.event.incident_id == current.id
        was_firing = member and state.event is not None and state.event.status is EventStatus.FIRING
        # a new member adds itself if firing; a member changes the count when it flips
        firing_delta = int(firing) - int(was_firing) if member else int(firing)
        status = current.status
        resolved_at = current.resolved_at
        open_key: str | None = current.correlation_key if status.is_open else None
        if action is IncidentAction.REOPEN:
            status, resolved_at, open_key = IncidentStatus.NEW, None, current.correlation_key
        elif action is IncidentAction.RESOLVE:
            status, resolved_at, open_key = IncidentStatus.RESOLVED, now, None
        resolve_after = current.resolve_after
        if decision.resolve_after is not None:
            resolve_after = decision.resolve_after
        elif firing and action in (
            IncidentAction.JOIN,
            IncidentAction.UPDATE,
            IncidentAction.REOPEN,
        ):
            resolve_after = None
        raised = decision.incident.priority.rank < current.priority.rank and action in (
            IncidentAction.JOIN,
            IncidentAction.UPDATE,
            IncidentAction.REOPEN,
        )
        sla = decision.sla
        greatest = "GREATEST" if sql.postgres else "MAX"
        assignments = [
            "event_count = event_count + 1",
            f"firing_events = {greatest}(0, firing_events + ?)",
            "updated_at = ?",
            "status = ?",
            "open_key = ?",
            "resolved_at = ?",
            "resolve_after = ?",
            "major = major OR ?",
        ]
        values: list[Any] = [
            firing_delta,
            sql.time(now),
            status.value,
            open_key,
            sql.time(resolved_at),
            sql.time(resolve_after),
            decision.incident.major,
        ]
        if action is IncidentAction.REOPEN:
            assignments.append("closed_at = NULL")
        if raised:
            assignments.append("priority = ?")
            values.append(decision.incident.priority.value)
        if sla is not None:
            assignments.extend(["response_due = ?", "resolution_due = ?"])
            values.extend([sql.time(sla.response_due), sql.time(sla.resolution_due)])
        if decision.problem_candidate:
            assignments.extend(["problem_candidate = ?", "related_incidents = ?"])
            values.extend([True, sql.json(list(decision.related_incident_ids))])
        await connection.execute_query(
            sql(f"UPDATE incidents SET {', '.join(assignments)} WHERE id = ?"),
            [*values, current.id],
        )
        await self._timeline_for(connection, event, decision, current, raised, now)
        changes: dict[str, list[str]] = {}
        if raised:
            changes["priority"] = [current.priority.value, decision.incident.priority.value]
        if status is not current.status and action is not IncidentAction.RESOLVE:
            changes["status"] = [current.status.value, status.value]
        return changes

    async def _timeline_for(
        self,
        connection: QueryRunner,
        event: Event,
        decision: Decision,
        current: IncidentState,
        raised: bool,
        now: datetime,
    ) -> None:
        action = decision.action
        if raised:
            await self.note(
                connection,
                current.id,
                now,
                "priority_raised",
                f"priority {current.priority.value} -> {decision.incident.priority.value}",
            )
        if action is IncidentAction.JOIN:
            await self.note(connection, current.id, now, "event_joined", event.summary)
        elif action is IncidentAction.REOPEN:
            await self.note(connection, current.id, now, "reopened", event.summary)
        elif action is IncidentAction.RESOLVE:
            await self.note(connection, current.id, now, "resolved", "all events recovered")
        elif action is IncidentAction.COMMENT:
            mail = event.mail
            await self.note(
                connection,
                current.id,
                now,
                "comment",
                mail.body if mail else event.summary,
                author=mail.sender if mail and mail.sender else event.source,
                data=_mail_data(event),
            )

    async def _upsert_event(
        self,
        connection: QueryRunner,
        event: Event,
        decision: Decision,
        state: State,
        incident_id: int | None,
        intake_id: int | None,
        now: datetime,
    ) -> int:
        sql = self.sql
        fields = decision.incident
        common = [
            event.severity.value,
            event.status.value,
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
            rows = await write_returning(
                connection,
                sql(
                    "INSERT INTO events (severity, status, summary, description, labels, url, "
                    "last_outcome, suppressed_by, flapping, correlation_key, incident_id, "
                    "last_intake_id, service, ci, environment, fingerprint, source, kind, name, "
                    "resource, count, first_seen, last_seen, transitions) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, '[]') "
                    "RETURNING id"
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
            return int(rows[0]["id"])
        stored = state.event
        transitions = [
            moment for moment in stored.transitions if now - moment < _TRANSITION_HORIZON
        ]
        if stored.status is not event.status:
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

    async def _record_occurrence(
        self,
        connection: QueryRunner,
        event_id: int,
        decision: Decision,
        incident_id: int | None,
        intake_id: int | None,
        now: datetime,
    ) -> int:
        rows = await write_returning(
            connection,
            self.sql(
                "INSERT INTO occurrences (event_id, fingerprint, correlation_key, incident_id, "
                "intake_id, outcome, at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"
            ),
            [
                event_id,
                decision.fingerprint[:128],
                decision.correlation_key[:255],
                incident_id,
                intake_id,
                decision.outcome.value,
                self.sql.time(now),
            ],
        )
        return int(rows[0]["id"])

    async def _adopt_pending(
        self,
        connection: QueryRunner,
        decision: Decision,
        incident_id: int | None,
        event_id: int,
        now: datetime,
    ) -> None:
        """Events held below a threshold join the incident the threshold opened."""
        if incident_id is None or decision.adopt_pending_since is None:
            return
        sql = self.sql
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
            sql(f"UPDATE events SET incident_id = ? WHERE id IN ({_marks(ids)})"),
            [incident_id, *ids],
        )
        await connection.execute_query(
            sql(
                "UPDATE incidents SET event_count = event_count + ?, "
                "firing_events = firing_events + ? WHERE id = ?"
            ),
            [occurrences, firing, incident_id],
        )
        await self.note(
            connection,
            incident_id,
            now,
            "events_adopted",
            f"{len(ids)} earlier events below the threshold joined",
        )

    async def note(
        self,
        connection: QueryRunner,
        incident_id: int,
        now: datetime,
        kind: str,
        text: str,
        *,
        author: str = "gateway",
        data: Mapping[str, Any] | None = None,
    ) -> None:
        await connection.execute_query(
            self.sql(
                "INSERT INTO timeline (incident_id, at, kind, author, text, data) "
                "VALUES (?, ?, ?, ?, ?, ?)"
            ),
            [
                incident_id,
                self.sql.time(now),
                kind[:32],
                author[:128],
                text,
                self.sql.json(dict(data or {})),
            ],
        )

    async def _notes(
        self, connection: QueryRunner, incident_id: int, decision: Decision, now: datetime
    ) -> None:
        for item in decision.notes:
            await self.note(connection, incident_id, now, item.kind, item.text, data=item.data)

    async def _record_thread(
        self, connection: QueryRunner, event: Event, incident_id: int, now: datetime
    ) -> None:
        if event.mail is None or not event.mail.message_id:
            return
        await connection.execute_query(
            self.sql(
                "INSERT INTO mail_threads (message_id, incident_id, direction, created_at) "
                "VALUES (?, ?, 'in', ?) ON CONFLICT (message_id) DO NOTHING"
            ),
            [event.mail.message_id[:255], incident_id, self.sql.time(now)],
        )

    async def _queue_routes(
        self,
        connection: QueryRunner,
        incident_id: int,
        event: Event,
        decision: Decision,
        occurrence_id: int,
        changes: Mapping[str, list[str]],
        now: datetime,
    ) -> None:
        """Forwarding work is written in the same transaction as its cause."""
        sinks = decision.routes
        if not sinks:
            return
        action = decision.action
        sql = self.sql
        cause = str(occurrence_id)
        if action is IncidentAction.OPEN:
            await queue(
                connection,
                sql,
                incident_id=incident_id,
                sinks=sinks,
                action="create",
                cause="",
                payload={},
                now=now,
            )
            return
        if changes:
            await queue(
                connection,
                sql,
                incident_id=incident_id,
                sinks=sinks,
                action="update",
                cause=cause,
                payload={"changes": dict(changes)},
                now=now,
            )
        if action is IncidentAction.REOPEN:
            await queue(
                connection,
                sql,
                incident_id=incident_id,
                sinks=sinks,
                action="reopen",
                cause=cause,
                payload={},
                now=now,
            )
        elif action is IncidentAction.RESOLVE:
            await queue(
                connection,
                sql,
                incident_id=incident_id,
                sinks=sinks,
                action="resolve",
                cause=cause,
                payload={},
                now=now,
            )
        elif action is IncidentAction.COMMENT:
            mail = event.mail
            payload = {
                "text": (mail.body if mail else event.summary)[:10_000],
                "author": mail.sender if mail else event.source,
            }
            await queue(
                connection,
                sql,
                incident_id=incident_id,
                sinks=sinks,
                action="comment",
                cause=cause,
                payload=payload,
                now=now,
            )
        elif event.status is EventStatus.FIRING and action in (
            IncidentAction.JOIN,
            IncidentAction.UPDATE,
        ):
            await count_occurrence(connection, sql, incident_id=incident_id, sinks=sinks, now=now)


def _same(incident: IncidentState | None, incident_id: int) -> bool:
    return incident is not None and incident.id == incident_id


def _marks(values: list[Any]) -> str:
    return ", ".join("?" for _ in values)


def _json_path(name: str) -> str:
    """A SQLite JSON path selecting one top-level key, whatever characters it has."""
    return '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mail_data(event: Event) -> dict[str, Any]:
    """What a timeline entry keeps of the mail behind it: its Message-ID and what was
    attached (name, type, size, SHA-256; the bytes stay in the raw intake record)."""
    mail = event.mail
    if mail is None:
        return {}
    data: dict[str, Any] = {"message_id": mail.message_id}
    if mail.attachments:
        data["attachments"] = [
            {
                "filename": item.filename,
                "content_type": item.content_type,
                "size": item.size,
                "sha256": item.sha256,
                "inline": item.inline,
            }
            for item in mail.attachments[:_TIMELINE_ATTACHMENTS]
        ]
    return data
