"""Changes made in an outside ticket system, applied to the gateway's incident.

The incident is found by the ticket the gateway recorded for that sink, or
by the incident key the system carried along (label, title tag, field). The
change lands on the timeline with the system and its user as author. It
writes no outbox row: the system it came from already knows, and echoing it
back would loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from rules.decision import IncidentStatus
from storage import models
from storage.database import Database, Dialect
from storage.visibility import visibility_of

# which states each external status may come from
_FROM: dict[IncidentStatus, tuple[IncidentStatus, ...]] = {
    IncidentStatus.ACKNOWLEDGED: (IncidentStatus.NEW,),
    IncidentStatus.RESOLVED: (IncidentStatus.NEW, IncidentStatus.ACKNOWLEDGED),
    IncidentStatus.CLOSED: (
        IncidentStatus.NEW,
        IncidentStatus.ACKNOWLEDGED,
        IncidentStatus.RESOLVED,
    ),
    IncidentStatus.NEW: (IncidentStatus.RESOLVED,),  # reopened outside
}


@dataclass(frozen=True, slots=True)
class ExternalChange:
    sink: str
    ticket_id: str | None
    incident_key: str | None
    status: IncidentStatus | None  # NEW means reopened
    assignee: str | None
    author: str  # the outside user, for the timeline
    comment: str = ""


@dataclass(frozen=True, slots=True)
class SyncResult:
    found: bool
    incident_key: str | None = None
    changed: tuple[str, ...] = ()


class SyncStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def apply(self, change: ExternalChange, now: datetime) -> SyncResult:
        async with self._db.transaction() as connection:
            incident = await self._find(connection, change)
            if incident is None:
                return SyncResult(found=False)
            changed: list[str] = []
            author = f"{change.sink}:{change.author}"[:128]
            if change.status is not None and await self._move(
                connection, incident, change, author, now
            ):
                changed.append("status")
            if change.assignee:
                await self._note(
                    connection,
                    incident.id,
                    now,
                    "assigned",
                    author,
                    f"assigned to {change.assignee} in {change.sink}",
                    {"assignee": change.assignee[:256], "sink": change.sink},
                )
                changed.append("assignee")
            if changed:
                incident.updated_at = now
                await incident.save(using_db=connection)
            return SyncResult(True, incident.key, tuple(changed))

    async def _find(
        self, connection: BaseDBAsyncClient, change: ExternalChange
    ) -> models.Incident | None:
        incident_id: int | None = None
        if change.ticket_id:
            ref = (
                await models.ExternalRef.filter(sink=change.sink, ticket_id=change.ticket_id)
                .using_db(connection)
                .first()
            )
            incident_id = ref.incident_id if ref else None
        if incident_id is not None:
            query = models.Incident.filter(id=incident_id)
        elif change.incident_key:
            query = models.Incident.filter(key=change.incident_key.upper())
        else:
            return None
        query = query.using_db(connection)
        if self._db.dialect is Dialect.POSTGRES:
            query = query.select_for_update()
        return await query.first()

    async def _move(
        self,
        connection: BaseDBAsyncClient,
        incident: models.Incident,
        change: ExternalChange,
        author: str,
        now: datetime,
    ) -> bool:
        target = change.status
        assert target is not None
        current = IncidentStatus(incident.status)
        if current is target or current not in _FROM[target]:
            return False  # already there, or not a step the lifecycle allows
        if target is IncidentStatus.NEW and await self._key_taken(connection, incident):
            await self._note(
                connection,
                incident.id,
                now,
                "reopen_refused",
                author,
                "reopened outside, but another open incident has its correlation key",
                {"sink": change.sink},
            )
            return False
        incident.status = target.value
        if target is IncidentStatus.ACKNOWLEDGED:
            incident.acknowledged_at = now
        elif target is IncidentStatus.NEW:
            incident.resolved_at = None
            incident.closed_at = None
            incident.open_key = incident.correlation_key
        else:
            incident.resolved_at = incident.resolved_at or now
            incident.open_key = None
            if target is IncidentStatus.CLOSED:
                incident.closed_at = now
        kind = "reopened" if target is IncidentStatus.NEW else target.value
        data = {"from": current.value, "sink": change.sink, "ticket": change.ticket_id or ""}
        await self._note(connection, incident.id, now, kind, author, change.comment, data)
        return True

    async def _key_taken(self, connection: BaseDBAsyncClient, incident: models.Incident) -> bool:
        return (
            await models.Incident.filter(open_key=incident.correlation_key)
            .exclude(id=incident.id)
            .using_db(connection)
            .exists()
        )

    @staticmethod
    async def _note(
        connection: BaseDBAsyncClient,
        incident_id: int,
        now: datetime,
        kind: str,
        author: str,
        text: str,
        data: dict[str, str],
    ) -> None:
        await models.TimelineEntry.create(
            using_db=connection,
            incident_id=incident_id,
            at=now,
            kind=kind,
            author=author,
            text=text,
            data=data,
            visibility=visibility_of(kind),
        )
