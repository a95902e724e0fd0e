"""What replay reads from a live database, and the one change it may make there."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from core.records import IntakeRecord
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


@dataclass(frozen=True, slots=True)
class SilenceInForce:
    """A silence as it was in force: from its start (never before it was created) to
    its end (or when it was expired early)."""

    id: int
    matchers: list[dict[str, str]]
    starts_at: datetime
    ends_at: datetime
    author: str
    created_at: datetime


async def silences_in_force(db: Database) -> list[SilenceInForce]:
    """Every silence that was ever in force, with the times it was."""
    found = []
    for row in await models.Silence.all().order_by("id"):
        starts_at = max(row.starts_at, row.created_at)
        ends_at = min(row.ends_at, row.expired_at) if row.expired_at else row.ends_at
        if starts_at < ends_at:
            found.append(
                SilenceInForce(row.id, row.matchers, starts_at, ends_at, row.author, row.created_at)
            )
    return found


async def copy_silences(db: Database, silences: Sequence[SilenceInForce]) -> None:
    """Write the silences into a scratch database, each live only while it was in force."""
    rows: list[Any] = [models.Silence(**asdict(item), comment="") for item in silences]
    if rows:
        await models.Silence.bulk_create(rows, using_db=db.connection)


async def requeue_failed(db: Database, since: datetime | None) -> int:
    """Failed records go back to pending, so the daemon tries them with today's config."""
    async with db.transaction() as connection:
        query = models.IntakeRecordRow.filter(state="failed").using_db(connection)
        if since is not None:
            query = query.filter(received_at__gte=since)
        return await query.update(state="pending", error=None, claimed_by=None, claimed_until=None)
