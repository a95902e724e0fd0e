"""Changes people make through the API: acknowledge, resolve, silences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from core.outbox import OutboxAction
from rules.calendars import AlwaysOpen
from rules.decision import IncidentStatus
from storage import audit, models
from storage.atomic import QueryRunner
from storage.audit import Operator
from storage.database import Database, reads_database
from storage.forwarding import entry_cause, queue
from storage.incident_state import incident_routes
from storage.merge import Merged, merge_in
from storage.pending import CalendarOf, resume_clocks
from storage.sql import Sql
from storage.views import incident_json, incident_lookup
from storage.visibility import visibility_of


class ActionRefused(Exception):
    """The change does not apply to the incident's current state."""


@dataclass(frozen=True, slots=True)
class NewSilence:
    matchers: list[dict[str, str]]
    starts_at: datetime
    ends_at: datetime
    author: str
    comment: str


class Actions:
    def __init__(
        self,
        db: Database,
        on_commit: Callable[[], None] | None = None,
        calendar: CalendarOf | None = None,
    ) -> None:
        self._db = db
        self._sql = Sql(db.dialect)
        # tells the outbox dispatcher that new forwarding work is waiting
        self._on_commit = on_commit
        # the SLA calendar of (priority, service, stored calendar): due times move by the
        # service time an incident waited on its requester; None: 24x7
        self._calendar = calendar or (lambda priority, service, stored: AlwaysOpen())

    # ``by``: the operator, whose change goes into the audit log in the same
    # transaction; None only where no person acts (rule scenarios).

    # the statuses each change starts from
    ACKNOWLEDGE_FROM = (IncidentStatus.NEW, IncidentStatus.PENDING)
    RESOLVE_FROM = (IncidentStatus.NEW, IncidentStatus.ACKNOWLEDGED, IncidentStatus.PENDING)
    PENDING_FROM = (IncidentStatus.NEW, IncidentStatus.ACKNOWLEDGED)

    async def pending(
        self, ident: int | str, author: str, comment: str, now: datetime, by: Operator | None
    ) -> dict[str, Any] | None:
        """Waiting on the requester: the SLA clocks stand still until it is acknowledged
        (work goes on) or resolved."""
        return await self._transition(
            ident, IncidentStatus.PENDING, author, comment, now, self.PENDING_FROM, by
        )

    async def acknowledge(
        self, ident: int | str, author: str, comment: str, now: datetime, by: Operator | None
    ) -> dict[str, Any] | None:
        return await self._transition(
            ident,
            IncidentStatus.ACKNOWLEDGED,
            author,
            comment,
            now,
            allowed=self.ACKNOWLEDGE_FROM,
            by=by,
        )

    async def resolve(
        self, ident: int | str, author: str, comment: str, now: datetime, by: Operator | None
    ) -> dict[str, Any] | None:
        return await self._transition(
            ident,
            IncidentStatus.RESOLVED,
            author,
            comment,
            now,
            allowed=self.RESOLVE_FROM,
            by=by,
        )

    async def _transition(
        self,
        ident: int | str,
        target: IncidentStatus,
        author: str,
        comment: str,
        now: datetime,
        allowed: tuple[IncidentStatus, ...],
        by: Operator | None,
    ) -> dict[str, Any] | None:
        async with self._db.transaction() as connection:
            body = await self.transition_in(
                connection, ident, target, author, comment, now, allowed, by
            )
            if body is None:
                return None
        if self._on_commit is not None:
            self._on_commit()
        return body

    async def transition_in(
        self,
        connection: BaseDBAsyncClient,
        ident: int | str,
        target: IncidentStatus,
        author: str,
        comment: str,
        now: datetime,
        allowed: tuple[IncidentStatus, ...],
        by: Operator | None,
    ) -> dict[str, Any] | None:
        """The status change inside the caller's transaction (one incident of a bulk
        action, or ``_transition``'s own); the caller tells the dispatcher after commit."""
        query = models.Incident.filter(incident_lookup(ident)).using_db(connection)
        if self._db.dialect.value == "postgres":
            query = query.select_for_update()
        row = await query.first()
        if row is None:
            return None
        current = IncidentStatus(row.status)
        if current is target:
            return incident_json(row, [])  # idempotent: asking twice is fine
        if current not in allowed:
            raise ActionRefused(
                f"incident {row.key} is {current.value}, cannot become {target.value}"
            )
        row.status = target.value
        row.updated_at = now
        data: dict[str, Any] = {"from": current.value}
        if current is IncidentStatus.PENDING:
            data["paused_seconds"] = self._resume(row, now)
        if target is IncidentStatus.PENDING:
            row.pending_since = now
        elif target is IncidentStatus.ACKNOWLEDGED:
            row.acknowledged_at = row.acknowledged_at or now
        else:
            row.resolved_at = now
            row.open_key = None
        await row.save(using_db=connection)
        entry = await models.TimelineEntry.create(
            using_db=connection,
            incident_id=row.id,
            at=now,
            kind=target.value,
            author=author[:128],
            text=comment,
            data=data,
            visibility=visibility_of(target.value),
        )
        await self._forward(connection, row, current, target, author, comment, entry.id, now)
        details = {"from": current.value, "to": target.value, "comment": bool(comment)}
        await audit.record_as(
            connection, by, f"incident.{target.value}", str(row.key), details, now
        )
        refs = await models.ExternalRef.filter(incident_id=row.id).using_db(connection)
        body = incident_json(row, list(refs))
        return body

    async def merge(
        self, ident: int | str, into: int | str, by: Operator, comment: str, now: datetime
    ) -> Merged | None:
        """Merge the duplicate ``ident`` into ``into`` (``storage.merge``); None: no
        ``ident``. Raises ``MergeRefused``."""
        async with self._db.transaction() as connection:
            merged = await merge_in(connection, self._sql, ident, into, by, comment, now)
        if merged is not None and self._on_commit is not None:
            self._on_commit()
        return merged

    def _resume(self, row: models.Incident, now: datetime) -> float:
        """Leaving pending: the due times move on by the service time the incident
        waited (``storage.pending``); the service seconds waited."""
        since = row.pending_since or now
        row.pending_since = None
        resumed = resume_clocks(
            self._calendar(row.priority, row.service, row.sla_calendar),
            since,
            now,
            {"response_due": row.response_due, "resolution_due": row.resolution_due},
            acknowledged=row.acknowledged_at is not None,
        )
        for clock, due in resumed.due.items():
            setattr(row, clock, due)
        return resumed.paused_seconds

    async def _forward(
        self,
        connection: QueryRunner,
        row: models.Incident,
        current: IncidentStatus,
        target: IncidentStatus,
        author: str,
        comment: str,
        entry_id: int,
        now: datetime,
    ) -> None:
        """A person's change goes to every sink of the incident, keyed by its timeline entry."""
        sinks = await incident_routes(connection, self._sql, row.id)
        cause = entry_cause(entry_id)
        if target is IncidentStatus.RESOLVED:
            await queue(
                connection,
                self._sql,
                incident_id=row.id,
                sinks=sinks,
                action=OutboxAction.RESOLVE,
                cause=cause,
                payload={},
                now=now,
            )
        else:
            await queue(
                connection,
                self._sql,
                incident_id=row.id,
                sinks=sinks,
                action=OutboxAction.UPDATE,
                cause=cause,
                now=now,
                payload={"changes": {"status": [current.value, target.value]}},
            )
        if comment:
            await queue(
                connection,
                self._sql,
                incident_id=row.id,
                sinks=sinks,
                action=OutboxAction.COMMENT,
                cause=cause,
                now=now,
                payload={"text": comment, "author": author},
            )

    async def create_silence(
        self, silence: NewSilence, now: datetime, by: Operator | None
    ) -> dict[str, Any]:
        async with self._db.transaction() as connection:
            row = await models.Silence.create(
                using_db=connection,
                matchers=silence.matchers,
                starts_at=silence.starts_at,
                ends_at=silence.ends_at,
                author=silence.author[:128],
                comment=silence.comment,
                created_at=now,
            )
            body = silence_json(row, now)
            details = {key: body[key] for key in ("matchers", "starts_at", "ends_at", "comment")}
            await audit.record_as(
                connection, by, "silence.create", f"silence:{row.id}", details, now
            )
        return body

    async def expire_silence(self, silence_id: int, now: datetime, by: Operator | None) -> bool:
        """Deleting a silence ends it now; the row stays for the audit trail."""
        async with self._db.transaction() as connection:
            updated = (
                await models.Silence.filter(id=silence_id, expired_at__isnull=True)
                .using_db(connection)
                .update(expired_at=now)
            )
            if updated:
                await audit.record_as(
                    connection, by, "silence.expire", f"silence:{silence_id}", {}, now
                )
        return updated > 0

    @reads_database("reading silences")
    async def list_silences(self, now: datetime, include_expired: bool) -> list[dict[str, Any]]:
        query = models.Silence.all()
        if not include_expired:
            query = query.filter(expired_at__isnull=True, ends_at__gt=now)
        rows = await query.order_by("-id").limit(1000)
        return [silence_json(row, now) for row in rows]


def silence_json(row: models.Silence, now: datetime) -> dict[str, Any]:
    if row.expired_at is not None or row.ends_at <= now:
        state = "expired"
    elif row.starts_at > now:
        state = "pending"
    else:
        state = "active"
    return {
        "id": row.id,
        "matchers": row.matchers,
        "starts_at": row.starts_at.isoformat().replace("+00:00", "Z"),
        "ends_at": row.ends_at.isoformat().replace("+00:00", "Z"),
        "author": row.author,
        "comment": row.comment,
        "state": state,
    }
