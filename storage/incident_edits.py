"""Changes people make to an incident besides its status: a comment, another
assignment group, impact and urgency (priority recomputed by the caller's matrix).

Each change locks the incident, writes a timeline entry with the author and
queues the follow-up for every sink of the incident in the same transaction,
keyed by that timeline entry (as ``storage.actions`` does for status changes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from core.outbox import OutboxAction
from storage import audit, models
from storage.audit import Operator
from storage.database import Database
from storage.forwarding import entry_cause, queue
from storage.incident_state import incident_routes
from storage.sql import Sql
from storage.views import incident_json, incident_lookup


@dataclass(frozen=True, slots=True)
class Change:
    """What one edit does: the timeline entry and the follow-ups to queue."""

    kind: str
    text: str
    data: dict[str, Any]
    updates: dict[str, Any]  # column -> new value
    forward: tuple[tuple[OutboxAction, dict[str, Any]], ...]  # (outbox action, payload)


Edit = Callable[[models.Incident], Change | None]


class IncidentEdits:
    def __init__(self, db: Database, on_commit: Callable[[], None] | None = None) -> None:
        self._db = db
        self._sql = Sql(db.dialect)
        self._on_commit = on_commit

    async def comment(
        self, ident: int | str, by: Operator, text: str, now: datetime
    ) -> dict[str, Any] | None:
        def change(row: models.Incident) -> Change:
            payload = {"text": text, "author": by.actor}
            return Change("comment", text, {}, {}, ((OutboxAction.COMMENT, payload),))

        return await self._edit(ident, by, now, change)

    async def reassign(
        self, ident: int | str, by: Operator, group: str, comment: str, now: datetime
    ) -> dict[str, Any] | None:
        return await self._edit(ident, by, now, self.reassignment(group, comment, by))

    async def reprioritise(
        self,
        ident: int | str,
        by: Operator,
        impact: int,
        urgency: int,
        priority: str,
        comment: str,
        now: datetime,
    ) -> dict[str, Any] | None:
        """New impact and urgency; ``priority`` is what the matrix makes of them."""

        def change(row: models.Incident) -> Change | None:
            if (row.impact, row.urgency, row.priority) == (impact, urgency, priority):
                return None
            changes = {
                "impact": [row.impact, impact],
                "urgency": [row.urgency, urgency],
                "priority": [row.priority, priority],
            }
            return Change(
                "priority_changed",
                comment,
                {name: {"from": old, "to": new} for name, (old, new) in changes.items()},
                {"impact": impact, "urgency": urgency, "priority": priority},
                _with_comment(((OutboxAction.UPDATE, {"changes": changes}),), comment, by.actor),
            )

        return await self._edit(ident, by, now, change)

    async def mark_major(
        self, ident: int | str, by: Operator, major: bool, comment: str, now: datetime
    ) -> dict[str, Any] | None:
        def change(row: models.Incident) -> Change | None:
            if row.major == major:
                return None
            changes = {"major": [row.major, major]}
            return Change(
                "major_set" if major else "major_cleared",
                comment,
                {"major": major},
                {"major": major},
                _with_comment(((OutboxAction.UPDATE, {"changes": changes}),), comment, by.actor),
            )

        return await self._edit(ident, by, now, change)

    async def link(
        self, ident: int | str, by: Operator, other_id: int, comment: str, now: datetime
    ) -> dict[str, Any] | None:
        """Link the incident to another one (the caller checked that it exists)."""

        def change(row: models.Incident) -> Change | None:
            if row.linked_incident_id == other_id or row.id == other_id:
                return None
            return Change(
                "linked",
                comment,
                {"from": row.linked_incident_id, "to": other_id},
                {"linked_incident_id": other_id},
                _with_comment((), comment, by.actor),
            )

        return await self._edit(ident, by, now, change)

    async def _edit(
        self, ident: int | str, by: Operator, now: datetime, edit: Edit
    ) -> dict[str, Any] | None:
        async with self._db.transaction() as connection:
            found = await self.edit_in(connection, ident, by, now, edit)
        if found is None:
            return None
        body, changed = found
        if changed and self._on_commit is not None:
            self._on_commit()
        return body

    async def edit_in(
        self,
        connection: BaseDBAsyncClient,
        ident: int | str,
        by: Operator,
        now: datetime,
        edit: Edit,
    ) -> tuple[dict[str, Any], bool] | None:
        """The edit inside the caller's transaction: the incident, and whether it changed."""
        query = models.Incident.filter(incident_lookup(ident)).using_db(connection)
        if self._sql.postgres:
            query = query.select_for_update()
        row = await query.first()
        if row is None:
            return None
        change = edit(row)
        if change is not None:
            await self._apply(connection, row, change, by, now)
        refs = await models.ExternalRef.filter(incident_id=row.id).using_db(connection)
        return incident_json(row, list(refs)), change is not None

    @staticmethod
    def reassignment(group: str, comment: str, by: Operator) -> Edit:
        """The edit that gives an incident to another assignment group."""

        def change(row: models.Incident) -> Change | None:
            if row.assignment_group == group:
                return None
            changes = {"assignment_group": [row.assignment_group, group]}
            return Change(
                "reassigned",
                comment,
                {"from": row.assignment_group, "to": group},
                {"assignment_group": group},
                _with_comment(((OutboxAction.UPDATE, {"changes": changes}),), comment, by.actor),
            )

        return change

    async def _apply(
        self,
        connection: BaseDBAsyncClient,
        row: models.Incident,
        change: Change,
        by: Operator,
        now: datetime,
    ) -> None:
        for column, value in change.updates.items():
            setattr(row, column, value)
        row.updated_at = now
        await row.save(using_db=connection)
        entry = await models.TimelineEntry.create(
            using_db=connection,
            incident_id=row.id,
            at=now,
            kind=change.kind,
            author=by.actor[:128],
            text=change.text,
            data=change.data,
        )
        # the audit log's row commits with the change (storage.audit)
        details = {**change.data, "comment": bool(change.text)} if change.data else None
        await audit.record_as(connection, by, f"incident.{change.kind}", str(row.key), details, now)
        sinks = await incident_routes(connection, self._sql, row.id)
        for action, payload in change.forward:
            await queue(
                connection,
                self._sql,
                incident_id=row.id,
                sinks=sinks,
                action=action,
                cause=entry_cause(entry.id),
                payload=payload,
                now=now,
            )


def _with_comment(
    forward: tuple[tuple[OutboxAction, dict[str, Any]], ...], comment: str, author: str
) -> tuple[tuple[OutboxAction, dict[str, Any]], ...]:
    if not comment:
        return forward
    return (*forward, (OutboxAction.COMMENT, {"text": comment, "author": author}))
