"""Bulk actions: acknowledge, resolve or reassign many incidents in ONE transaction,
each through the same code as the single action (timeline entry, outbox
follow-ups, audit-log row); an incident the change does not apply to (already
resolved, say) is skipped and reported, the rest still change together."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from rules.decision import IncidentStatus
from storage.actions import ActionRefused, Actions
from storage.audit import Operator
from storage.database import Database
from storage.incident_edits import IncidentEdits

BulkKind = Literal["acknowledge", "resolve", "assign"]


@dataclass
class BulkResult:
    changed: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)


class BulkActions:
    def __init__(
        self,
        db: Database,
        actions: Actions,
        edits: IncidentEdits,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._db = db
        self._actions = actions
        self._edits = edits
        self._on_commit = on_commit

    async def apply(
        self,
        kind: BulkKind,
        ids: Sequence[int],
        by: Operator,
        now: datetime,
        *,
        comment: str = "",
        group: str = "",
    ) -> BulkResult:
        result = BulkResult()
        async with self._db.transaction() as connection:
            for incident_id in ids:
                if kind == "assign":
                    edit = IncidentEdits.reassignment(group, comment, by)
                    found = await self._edits.edit_in(connection, incident_id, by, now, edit)
                    changed = found is not None
                else:
                    target, allowed = self._target(kind)
                    try:
                        body = await self._actions.transition_in(
                            connection, incident_id, target, by.actor, comment, now, allowed, by
                        )
                    except ActionRefused:
                        result.refused.append(incident_id)
                        continue
                    changed = body is not None
                (result.changed if changed else result.missing).append(incident_id)
        if result.changed and self._on_commit is not None:
            self._on_commit()
        return result

    def _target(self, kind: BulkKind) -> tuple[IncidentStatus, tuple[IncidentStatus, ...]]:
        if kind == "acknowledge":
            return IncidentStatus.ACKNOWLEDGED, self._actions.ACKNOWLEDGE_FROM
        return IncidentStatus.RESOLVED, self._actions.RESOLVE_FROM
