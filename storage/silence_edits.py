"""Extending a silence: its end moves later; the change is in the audit log with the
person, in the same transaction (like creating and expiring one, storage.actions)."""

from __future__ import annotations

from datetime import datetime, timedelta

from storage import audit, models
from storage.audit import Operator
from storage.database import Database


async def extend_silence(
    db: Database, silence_id: int, by: timedelta, now: datetime, who: Operator | None
) -> datetime | None:
    """The new end of an active silence, ``by`` later than its current end (or than
    now, if sooner); None when there is no such active silence."""
    async with db.transaction() as connection:
        row = (
            await models.Silence.filter(id=silence_id, expired_at__isnull=True, ends_at__gt=now)
            .using_db(connection)
            .first()
        )
        if row is None:
            return None
        ends_at = max(row.ends_at, now) + by
        await models.Silence.filter(id=silence_id).using_db(connection).update(ends_at=ends_at)
        details = {"from": row.ends_at.isoformat(), "to": ends_at.isoformat()}
        await audit.record_as(
            connection, who, "silence.extend", f"silence:{silence_id}", details, now
        )
    return ends_at
