"""Loading the rule engine's State and applying its Decision, in one transaction.

The rule engine is pure; this module is where its decisions become rows.
Uniqueness (``events.fingerprint``, ``incidents.open_key``) protects against
a concurrent writer (another replica): a conflicting write raises
IntegrityError, the caller rolls back and evaluates the event again against
fresh state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from parsers.records import Event, EventStatus, Severity
from rules.decision import (
    Decision,
    EventOutcome,
    EventState,
    IncidentAction,
    IncidentState,
    IncidentStatus,
    Lookup,
    Priority,
    SilenceState,
    State,
    TimelineNote,
)
from storage import models
from storage.database import Database, Dialect

_TRANSITIONS_KEPT = 50


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


def _incident_state(row: models.Incident) -> IncidentState:
    return IncidentState(
        id=row.id,
        key=row.key or incident_key(row.id),
        status=IncidentStatus(row.status),
        priority=Priority(row.priority),
        correlation_key=row.correlation_key,
        created_at=row.created_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
        firing_events=row.firing_events,
    )


def _event_state(row: models.Event) -> EventState:
    return EventState(
        id=row.id,
        fingerprint=row.fingerprint,
        status=EventStatus(row.status),
        severity=Severity(row.severity),
        count=row.count,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        incident_id=row.incident_id,
        flapping=row.flapping,
        transitions=tuple(datetime.fromisoformat(item) for item in row.transitions),
    )


async def active_silences(connection: BaseDBAsyncClient, now: datetime) -> tuple[SilenceState, ...]:
    rows = await models.Silence.filter(
        starts_at__lte=now, ends_at__gt=now, expired_at__isnull=True
    ).using_db(connection)
    return tuple(
        SilenceState(
            id=row.id,
            matchers=tuple((m["name"], m["op"], m["value"]) for m in row.matchers),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
        )
        for row in rows
    )


class IncidentStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def load_state(
        self,
        connection: BaseDBAsyncClient,
        lookup: Lookup,
        silences: tuple[SilenceState, ...],
    ) -> State:
        events = models.Event.filter(fingerprint=lookup.fingerprint).using_db(connection)
        if self._db.dialect is Dialect.POSTGRES:
            events = events.select_for_update()
        event_row = await events.first()
        incident_row = (
            await models.Incident.filter(open_key=lookup.correlation_key)
            .using_db(connection)
            .first()
        )
        if incident_row is None and event_row is not None and event_row.incident_id:
            incident_row = (
                await models.Incident.filter(id=event_row.incident_id).using_db(connection).first()
            )
        return State(
            event=_event_state(event_row) if event_row else None,
            incident=_incident_state(incident_row) if incident_row else None,
            referenced=await self._referenced(connection, lookup),
            silences=silences,
        )

    async def _referenced(
        self, connection: BaseDBAsyncClient, lookup: Lookup
    ) -> tuple[IncidentState, ...]:
        ids: list[int] = []
        if lookup.message_ids:
            threads = await models.MailThread.filter(
                message_id__in=list(lookup.message_ids)
            ).using_db(connection)
            ids.extend(thread.incident_id for thread in threads)
        query = models.Incident.filter(id__in=ids) if ids else None
        if lookup.incident_keys:
            by_key = models.Incident.filter(key__in=list(lookup.incident_keys))
            query = by_key if query is None else query | by_key  # type: ignore[operator]
        if query is None:
            return ()
        rows = await query.using_db(connection).order_by("-id")
        return tuple(_incident_state(row) for row in rows)

    async def apply(
        self,
        connection: BaseDBAsyncClient,
        event: Event,
        decision: Decision,
        state: State,
        intake_id: int | None,
        now: datetime,
    ) -> Applied:
        event_row = await self._upsert_event(connection, event, decision, state, intake_id, now)
        incident = await self._apply_incident(connection, event, event_row, decision, state, now)
        if incident is not None and event_row.incident_id != incident.id:
            event_row.incident_id = incident.id
            await event_row.save(using_db=connection, update_fields=["incident_id"])
        if incident is not None:
            await self._add_notes(connection, incident.id, decision.notes, now)
            await self._record_thread(connection, event, incident.id, now)
            await self._queue_routes(connection, incident, event_row, decision, now)
        return Applied(
            event_id=event_row.id,
            incident_id=incident.id if incident else None,
            incident_key=incident.key if incident else None,
            outcome=decision.outcome,
            action=decision.action,
        )

    async def _upsert_event(
        self,
        connection: BaseDBAsyncClient,
        event: Event,
        decision: Decision,
        state: State,
        intake_id: int | None,
        now: datetime,
    ) -> models.Event:
        labels = dict(event.labels)
        if state.event is None:
            return await models.Event.create(
                using_db=connection,
                fingerprint=decision.fingerprint,
                source=event.source,
                kind=event.kind,
                name=event.name[:512],
                resource=event.resource[:512],
                service=decision.incident.service or event.service,
                ci=decision.incident.ci or event.ci,
                environment=decision.incident.environment or event.environment,
                severity=event.severity.value,
                status=event.status.value,
                summary=event.summary,
                description=event.description,
                labels=labels,
                url=event.url,
                count=1,
                first_seen=now,
                last_seen=now,
                last_outcome=decision.outcome.value,
                suppressed_by=decision.suppressed_by,
                flapping=decision.flapping,
                transitions=[],
                last_intake_id=intake_id,
            )
        row = await models.Event.filter(id=state.event.id).using_db(connection).get()
        transitions = list(row.transitions)
        if row.status != event.status.value:
            transitions = [*transitions, now.isoformat()][-_TRANSITIONS_KEPT:]
        row.count += 1
        row.last_seen = now
        row.status = event.status.value
        row.severity = event.severity.value
        row.summary = event.summary
        row.description = event.description
        row.labels = labels
        row.last_outcome = decision.outcome.value
        row.suppressed_by = decision.suppressed_by
        row.flapping = decision.flapping
        row.transitions = transitions
        row.last_intake_id = intake_id
        await row.save(using_db=connection)
        return row

    async def _apply_incident(
        self,
        connection: BaseDBAsyncClient,
        event: Event,
        event_row: models.Event,
        decision: Decision,
        state: State,
        now: datetime,
    ) -> models.Incident | None:
        action = decision.action
        if action is IncidentAction.OPEN:
            return await self._open(connection, event, decision, now)
        if action is IncidentAction.NONE or decision.incident_id is None:
            return None
        incident = await models.Incident.filter(id=decision.incident_id).using_db(connection).get()
        was_firing = state.event is not None and state.event.status is EventStatus.FIRING
        is_firing = event.status is EventStatus.FIRING
        joined = state.event is None or state.event.incident_id != incident.id
        if joined:
            incident.event_count += 1
            incident.firing_events += 1 if is_firing else 0
        elif was_firing != is_firing:
            incident.firing_events = max(0, incident.firing_events + (1 if is_firing else -1))
        incident.updated_at = now
        fields = decision.incident
        if Priority(fields.priority).rank < Priority(incident.priority).rank:
            await self._note(
                connection,
                incident.id,
                now,
                "priority_raised",
                f"priority {incident.priority} -> {fields.priority.value}",
            )
            incident.priority = fields.priority.value
        incident.major = incident.major or fields.major
        if action is IncidentAction.JOIN:
            await self._note(connection, incident.id, now, "event_joined", event.summary)
        elif action is IncidentAction.REOPEN:
            incident.status = IncidentStatus.NEW.value
            incident.open_key = incident.correlation_key
            incident.resolved_at = None
            incident.closed_at = None
            await self._note(connection, incident.id, now, "reopened", event.summary)
        elif action is IncidentAction.RESOLVE:
            incident.status = IncidentStatus.RESOLVED.value
            incident.open_key = None
            incident.resolved_at = now
            await self._note(connection, incident.id, now, "resolved", "all events recovered")
        elif action is IncidentAction.COMMENT:
            text = event.mail.body if event.mail else event.summary
            author = event.mail.sender if event.mail else event.source
            await self._note(connection, incident.id, now, "comment", text, author=author)
        await incident.save(using_db=connection)
        return incident

    async def _open(
        self, connection: BaseDBAsyncClient, event: Event, decision: Decision, now: datetime
    ) -> models.Incident:
        fields = decision.incident
        incident = await models.Incident.create(
            using_db=connection,
            title=fields.title[:512],
            type=fields.type.value,
            status=IncidentStatus.NEW.value,
            priority=fields.priority.value,
            impact=fields.impact,
            urgency=fields.urgency,
            major=fields.major,
            service=fields.service,
            ci=fields.ci,
            environment=fields.environment,
            category=fields.category,
            assignment_group=fields.assignment_group,
            requester=fields.requester,
            correlation_key=decision.correlation_key,
            open_key=decision.correlation_key,
            event_count=1,
            firing_events=1 if event.status is EventStatus.FIRING else 0,
            response_due=decision.sla.response_due if decision.sla else None,
            resolution_due=decision.sla.resolution_due if decision.sla else None,
            linked_incident_id=decision.linked_incident_id,
            created_at=now,
            updated_at=now,
        )
        incident.key = incident_key(incident.id)
        await incident.save(using_db=connection, update_fields=["key"])
        await self._note(
            connection,
            incident.id,
            now,
            "opened",
            event.summary,
            data={"priority": fields.priority.value, "rules": ",".join(decision.matched_rules)},
        )
        return incident

    async def _note(
        self,
        connection: BaseDBAsyncClient,
        incident_id: int,
        now: datetime,
        kind: str,
        text: str,
        *,
        author: str = "gateway",
        data: dict[str, Any] | None = None,
    ) -> None:
        await models.TimelineEntry.create(
            using_db=connection,
            incident_id=incident_id,
            at=now,
            kind=kind,
            author=author[:128],
            text=text,
            data=data or {},
        )

    async def _add_notes(
        self,
        connection: BaseDBAsyncClient,
        incident_id: int,
        notes: tuple[TimelineNote, ...],
        now: datetime,
    ) -> None:
        for note in notes:
            await self._note(
                connection, incident_id, now, note.kind, note.text, data=dict(note.data)
            )

    async def _record_thread(
        self, connection: BaseDBAsyncClient, event: Event, incident_id: int, now: datetime
    ) -> None:
        if event.mail is None or not event.mail.message_id:
            return
        exists = (
            await models.MailThread.filter(message_id=event.mail.message_id)
            .using_db(connection)
            .exists()
        )
        if not exists:
            await models.MailThread.create(
                using_db=connection,
                message_id=event.mail.message_id[:255],
                incident_id=incident_id,
                direction="in",
                created_at=now,
            )

    async def _queue_routes(
        self,
        connection: BaseDBAsyncClient,
        incident: models.Incident,
        event_row: models.Event,
        decision: Decision,
        now: datetime,
    ) -> None:
        """Forwarding work is written in the same transaction as its cause."""
        for sink in decision.routes:
            key = f"{incident.id}:{sink}:{decision.action.value}:{event_row.id}:{event_row.count}"
            await models.OutboxRow.create(
                using_db=connection,
                incident_id=incident.id,
                sink=sink,
                action=decision.action.value,
                idempotency_key=key[:255],
                payload={"incident_id": incident.id, "event_id": event_row.id},
                next_attempt_at=now,
                created_at=now,
            )
