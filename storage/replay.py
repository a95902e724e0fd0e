"""What replay reads from a live database, and the one change it may make there."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from parsers.records import IntakeRecord
from storage import models
from storage.database import Database
from storage.records import record_from_row
from storage.sql import as_json


@dataclass(frozen=True, slots=True)
class StoredOutcome:
    """What the rules made of one event of one intake record."""

    fingerprint: str
    outcome: str
    incident_key: str
    priority: str
    type: str
    routes: tuple[str, ...]


async def records_since(db: Database, since: datetime | None, limit: int) -> list[IntakeRecord]:
    """Stored intake, oldest first (processed and failed; pending ones are not settled)."""
    query = models.IntakeRecordRow.filter(state__in=["processed", "failed"])
    if since is not None:
        query = query.filter(received_at__gte=since)
    rows = await query.order_by("id").limit(limit)
    return [record_from_row(row) for row in rows]


async def outcomes_by_intake(
    db: Database, intake_ids: Sequence[int]
) -> dict[int, list[StoredOutcome]]:
    found: dict[int, list[StoredOutcome]] = {}
    for start in range(0, len(intake_ids), 500):
        chunk = list(intake_ids[start : start + 500])
        marks = ", ".join(db.placeholder(index + 1) for index in range(len(chunk)))
        rows = await db.connection.execute_query_dict(
            "SELECT o.intake_id, o.fingerprint, o.outcome, i.key, i.priority, i.type, i.routes "
            "FROM occurrences o LEFT JOIN incidents i ON i.id = o.incident_id "
            f"WHERE o.intake_id IN ({marks}) ORDER BY o.id",
            chunk,
        )
        for row in rows:
            found.setdefault(int(row["intake_id"]), []).append(
                StoredOutcome(
                    fingerprint=row["fingerprint"],
                    outcome=row["outcome"],
                    incident_key=row["key"] or "",
                    priority=row["priority"] or "",
                    type=row["type"] or "",
                    routes=tuple(as_json(row["routes"]) or ()) if row["routes"] else (),
                )
            )
    return found


async def requeue_failed(db: Database, since: datetime | None) -> int:
    """Failed records go back to pending, so the daemon tries them with today's config."""
    async with db.transaction() as connection:
        query = models.IntakeRecordRow.filter(state="failed").using_db(connection)
        if since is not None:
            query = query.filter(received_at__gte=since)
        return await query.update(state="pending", error=None, claimed_by=None, claimed_until=None)
