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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.records import Event
from rules.calendars import AlwaysOpen
from rules.decision import (
    Decision,
    EventOutcome,
    IncidentAction,
    IncidentState,
    IncidentStatus,
    Lookup,
    RuleSet,
    SilenceState,
    State,
    StoredStatus,
    follow_up_routes,
    stored_status,
)
from rules.holds import calls_off_resolution
from storage.answers import RequesterAnswers
from storage.atomic import QueryRunner
from storage.batched import Batched, insert_id
from storage.database import Database
from storage.event_rows import adopt_pending, record_occurrence, upsert_event
from storage.forwarding import queue_routes
from storage.incident_state import (
    IncidentStateReader,
    active_silences,
    incident_columns,
    incident_key,
    incident_state,
)
from storage.pending import CalendarOf, end_wait
from storage.readahead import ReadAhead
from storage.rollup import DayTally
from storage.sql import Sql
from storage.timeline import mail_data, note, notes, record_thread, timeline_for

_OPEN_COLUMNS = (
    "title, type, status, priority, impact, urgency, major, service, ci, environment, "
    "category, assignment_group, requester, owner, correlation_key, open_key, event_count, "
    "firing_events, response_due, resolution_due, sla_calendar, response_breached, "
    "resolution_breached, linked_incident_id, problem_candidate, related_incidents, routes, "
    "escalated, created_at, updated_at"
)
_OPEN_VALUES = f"?, ?, 'new', {', '.join('?' * 13)}, 1, {', '.join('?' * 10)}, '[]', ?, ?"
# SQLite: the new incident's id (the one AUTOINCREMENT would give: the writer holds the
# file's write lock) and its key go in with the row, which saves an UPDATE of it
_NEXT_ID = "(SELECT COALESCE(MAX(seq), 0) + 1 FROM sqlite_sequence WHERE name = 'incidents')"
_OPEN = {
    False: f"INSERT INTO incidents (id, key, {_OPEN_COLUMNS}) VALUES ({_NEXT_ID}, "
    f"'INC-' || printf('%06d', {_NEXT_ID}), {_OPEN_VALUES})",
    True: f"INSERT INTO incidents ({_OPEN_COLUMNS}) VALUES ({_OPEN_VALUES})",
}


@dataclass(frozen=True, slots=True)
class Applied:
    event_id: int
    incident_id: int | None
    incident_key: str | None
    outcome: EventOutcome
    action: IncidentAction


class IncidentStore(IncidentStateReader):
    def __init__(
        self,
        db: Database,
        answers: Callable[[], RequesterAnswers | None] = lambda: None,
        calendar: CalendarOf = lambda priority, service, stored: AlwaysOpen(),
    ) -> None:
        """``answers``: the mailboxes that acknowledge a mail opening an incident (asked
        each time: a reload may change them); ``calendar``: the SLA calendar of
        (priority, service), by which a requester's answer moves the due times on."""
        self._db = db
        self.sql = Sql(db.dialect)
        self._answers = answers
        self._calendar = calendar

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
        ``now`` (replay, rule scenarios, heartbeats; the pipeline judges batches event by
        event with ``judge_event``)."""
        in_force = await self.silences(connection, now)
        decisions = []
        tally = DayTally(self.sql)
        for event in events:
            decision, _ = await self.judge_event(
                connection, ruleset, event, intake_id, now, in_force, tally=tally
            )
            decisions.append(decision)
        await tally.write(connection)
        return decisions

    async def silences(self, connection: QueryRunner, now: datetime) -> tuple[SilenceState, ...]:
        """The silences in force at ``now``, read once per transaction."""
        return await active_silences(connection, self.sql, now)

    async def judge_event(
        self,
        connection: QueryRunner,
        ruleset: RuleSet,
        event: Event,
        intake_id: int | None,
        now: datetime,
        silences: tuple[SilenceState, ...],
        lookup: Lookup | None = None,
        ahead: ReadAhead | None = None,
        tally: DayTally | None = None,
    ) -> tuple[Decision, Applied]:
        """The one unit of judging: load the event's state, evaluate it, write the
        decision. ``lookup``, ``ahead``: what a batch already computed and read; ``tally``:
        its roll-up increments, which it writes at its end (None: written here)."""
        if lookup is None:
            lookup = ruleset.lookup(event, now)
        state = await self.load_state(connection, lookup, silences, ahead)
        decision = ruleset.evaluate(event, state, now)
        applied = await self.apply(connection, event, decision, state, intake_id, now, ahead, tally)
        return decision, applied

    async def apply(
        self,
        connection: QueryRunner,
        event: Event,
        decision: Decision,
        state: State,
        intake_id: int | None,
        now: datetime,
        ahead: ReadAhead | None = None,
        tally: DayTally | None = None,
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
        counted = tally if tally is not None else DayTally(self.sql)
        event_id = await upsert_event(
            runner, self.sql, event, decision, state, incident_id, intake_id, now, counted
        )
        occurrence_id = await record_occurrence(
            runner, self.sql, event_id, decision, incident_id, intake_id, now, counted
        )
        if tally is None:
            await counted.write(runner)
        if incident_id is not None and decision.action is not IncidentAction.NONE:
            await notes(runner, self.sql, incident_id, decision, now)
            await record_thread(runner, self.sql, event, incident_id, now)
            await queue_routes(
                runner, self.sql, incident_id, event, decision, occurrence_id, changes, now
            )
            answers = self._answers()
            if decision.action is IncidentAction.OPEN and answers is not None:
                await answers.queue_answer(runner, self.sql, incident_id, event, now)
        elif incident_id is not None and decision.notes:  # noted, nothing changed or forwarded
            await notes(runner, self.sql, incident_id, decision, now)
        if decision.action is IncidentAction.OPEN and decision.adopt_pending_since is not None:
            await adopt_pending(runner, self.sql, decision, incident_id, event_id, now)
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
        incident_id = await insert_id(
            connection,
            sql(_OPEN[sql.postgres]),
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
                sla.calendar if sla else None,
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
        key = incident_key(incident_id)
        if sql.postgres:  # SQLite: the key went in with the row
            await connection.execute_query(
                sql("UPDATE incidents SET key = ? WHERE id = ?"), [key, incident_id]
            )
        await note(
            connection,
            self.sql,
            incident_id,
            now,
            "opened",
            event.summary,
            data={
                "priority": fields.priority.value,
                "rules": ",".join(decision.matched_rules),
                **mail_data(event),
            },
        )
        if decision.linked_incident_id is not None:
            await note(
                connection,
                self.sql,
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
            assignments.extend(["response_due = ?", "resolution_due = ?", "sla_calendar = ?"])
            values.extend([sql.time(sla.response_due), sql.time(sla.resolution_due), sla.calendar])
        if decision.problem_candidate:
            assignments.extend(["problem_candidate = ?", "related_incidents = ?"])
            values.extend([True, sql.json(list(decision.related_incident_ids))])
        await connection.execute_query(
            sql(f"UPDATE incidents SET {', '.join(assignments)} WHERE id = ?"),
            [*values, current.id],
        )
        await timeline_for(connection, self.sql, event, decision, current, raised, now)
        if action is IncidentAction.COMMENT and status is IncidentStatus.PENDING:
            # the requester's answer ends the wait (an operator's or a machine's does not)
            ended = await end_wait(connection, sql, current.id, event, now, self._calendar)
            status = ended or status
        changes: dict[str, list[str]] = {}
        if raised:
            changes["priority"] = [current.priority.value, decision.incident.priority.value]
        if status is not current.status and action is not IncidentAction.RESOLVE:
            changes["status"] = [current.status.value, status.value]
        return changes


def _same(incident: IncidentState | None, incident_id: int) -> bool:
    return incident is not None and incident.id == incident_id
