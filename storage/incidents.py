"""Applying the rule engine's Decision, in the transaction that loaded its State
(``storage.incident_state``, which the store builds on).

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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.outbox import OutboxAction
from core.records import Event
from rules.decision import (
    Decision,
    EventOutcome,
    IncidentAction,
    IncidentState,
    IncidentStatus,
    RuleSet,
    State,
    StoredStatus,
    follow_up_routes,
    stored_status,
)
from rules.holds import calls_off_resolution
from storage.answers import RequesterAnswers
from storage.atomic import QueryRunner
from storage.batched import Batched, write_returning
from storage.database import Database
from storage.forwarding import count_occurrence, queue
from storage.incident_state import (
    IncidentStateReader,
    active_silences,
    incident_columns,
    incident_key,
    incident_state,
    marks,
)
from storage.readahead import ReadAhead
from storage.sql import Sql
from storage.visibility import visibility_of

_TRANSITIONS_KEPT = 50
_TRANSITION = {StoredStatus.FIRING, StoredStatus.RESOLVED}  # a change either way
_TRANSITION_HORIZON = timedelta(hours=2)


@dataclass(frozen=True, slots=True)
class Applied:
    event_id: int
    incident_id: int | None
    incident_key: str | None
    outcome: EventOutcome
    action: IncidentAction


# attachments listed on a timeline entry, at most (a mail may carry thousands of parts)
_TIMELINE_ATTACHMENTS = 100


class IncidentStore(IncidentStateReader):
    def __init__(
        self, db: Database, answers: Callable[[], RequesterAnswers | None] = lambda: None
    ) -> None:
        """``answers``: the mailboxes that acknowledge a mail opening an incident (asked
        each time: a reload may change them)."""
        self._db = db
        self.sql = Sql(db.dialect)
        self._answers = answers

    # -- Decision ----------------------------------------------------------

    async def judge(
        self,
        connection: QueryRunner,
        ruleset: RuleSet,
        events: Sequence[Event],
        intake_id: int | None,
        now: datetime,
    ) -> list[Decision]:
        """One record's events through the rules and into rows, one after the other, at
        ``now`` (replay and rule scenarios; the pipeline batches the same steps)."""
        in_force = await active_silences(connection, self.sql, now)
        decisions = []
        for event in events:
            state = await self.load_state(connection, ruleset.lookup(event, now), in_force)
            decision = ruleset.evaluate(event, state, now)
            await self.apply(connection, event, decision, state, intake_id, now)
            decisions.append(decision)
        return decisions

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
            answers = self._answers()
            if decision.action is IncidentAction.OPEN and answers is not None:
                await answers.queue_answer(runner, self.sql, incident_id, event, now)
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
                f"SELECT {incident_columns(self.sql)} FROM incidents "
                f"WHERE id = ?{self.sql.for_update()}",
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
                1 if stored_status(event, decision) is StoredStatus.FIRING else 0,
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
        # only alerts count: a mail stored as a comment neither fires nor holds recovery back
        firing = stored_status(event, decision) is StoredStatus.FIRING
        member = state.event is not None and state.event.incident_id == current.id
        was_firing = (
            member and state.event is not None and state.event.status is StoredStatus.FIRING
        )
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
        elif calls_off_resolution(action, stored_status(event, decision)):
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
        if not set(decision.routes) <= set(current.routes):
            # a follow-up routed to a new sink: later follow-ups go there too
            assignments.append("routes = ?")
            values.append(sql.json(list(follow_up_routes(current.routes, decision.routes))))
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
                visibility=visibility_of("comment", from_person=mail is not None),
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
        visibility: str | None = None,
    ) -> None:
        await connection.execute_query(
            self.sql(
                "INSERT INTO timeline (incident_id, at, kind, author, text, data, visibility) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)"
            ),
            [
                incident_id,
                self.sql.time(now),
                kind[:32],
                author[:128],
                text,
                self.sql.json(dict(data or {})),
                visibility or visibility_of(kind),
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
        # (what, payload); every row of one event has the occurrence as its cause
        work: list[tuple[OutboxAction, Mapping[str, Any]]] = []
        if action is IncidentAction.OPEN:
            work.append((OutboxAction.CREATE, {}))
        elif changes:
            work.append((OutboxAction.UPDATE, {"changes": dict(changes)}))
        if action is IncidentAction.REOPEN:
            work.append((OutboxAction.REOPEN, {}))
        elif action is IncidentAction.RESOLVE:
            work.append((OutboxAction.RESOLVE, {}))
        elif action is IncidentAction.COMMENT:
            mail = event.mail
            text = (mail.body if mail else event.summary)[:10_000]
            work.append(
                (
                    OutboxAction.COMMENT,
                    {"text": text, "author": mail.sender if mail else event.source},
                )
            )
        elif stored_status(event, decision) is StoredStatus.FIRING and action in (
            IncidentAction.JOIN,
            IncidentAction.UPDATE,
        ):
            await count_occurrence(
                connection, self.sql, incident_id=incident_id, sinks=sinks, now=now
            )
        for what, payload in work:
            # a create is one per incident and sink, whatever caused it
            cause = "" if what is OutboxAction.CREATE else str(occurrence_id)
            await queue(
                connection,
                self.sql,
                incident_id=incident_id,
                sinks=sinks,
                action=what,
                cause=cause,
                payload=payload,
                now=now,
            )


def _same(incident: IncidentState | None, incident_id: int) -> bool:
    return incident is not None and incident.id == incident_id


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
