"""What the requester's status page reads: the incident's public face, never its
internal notes, events or raw alert data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage import models
from storage.database import Database, reads_database
from storage.sql import Sql
from storage.visibility import PUBLIC

_PUBLIC_ENTRIES = 200  # newest public entries shown, at most


@reads_database("reading the status page")
async def public_status(incident_id: int, key: str) -> dict[str, Any] | None:
    """The incident a link names, if it still exists under that key (a link outlives
    nothing: after retention deleted the incident, the page says so)."""
    row = await models.Incident.filter(id=incident_id, key=key).first()
    if row is None:
        return None
    entries = (
        await models.TimelineEntry.filter(incident_id=row.id, visibility=PUBLIC)
        .order_by("-id")
        .limit(_PUBLIC_ENTRIES)
    )
    return {
        "id": row.id,
        "key": row.key,
        "title": row.title,
        "type": row.type,
        "status": row.status,
        "priority": row.priority,
        "requester": row.requester,
        "created_at": row.created_at,
        "response_due": row.response_due,
        "resolution_due": row.resolution_due,
        "acknowledged_at": row.acknowledged_at,
        "resolved_at": row.resolved_at,
        "rating": row.rating,
        "timeline": [_entry(entry) for entry in reversed(entries)],
    }


def _entry(entry: models.TimelineEntry) -> dict[str, Any]:
    # a status change shows as its label; only a comment shows its text, which a
    # person wrote to the requester's side
    comment = entry.kind == "comment"
    files = [str(item.get("filename", "")) for item in entry.data.get("attachments", [])]
    return {
        "at": entry.at,
        "kind": entry.kind,
        "author": entry.author,
        "text": entry.text if comment else "",
        "files": files if comment else [],
    }


class Ratings:
    """The requester's satisfaction rating: stored once, whatever is clicked after."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._sql = Sql(db.dialect)

    async def rate(self, incident_id: int, key: str, score: int, now: datetime) -> bool:
        """True when this call stored the rating; False when the incident was rated
        already, is not resolved or closed, or is not there."""
        sql = self._sql
        async with self._db.transaction() as connection:
            # the condition on rating makes a second click, even a concurrent one, a no-op
            changed = await connection.execute_query_dict(
                sql(
                    "UPDATE incidents SET rating = ?, rated_at = ? WHERE id = ? AND key = ? "
                    "AND rating IS NULL AND status IN ('resolved', 'closed') RETURNING id"
                ),
                [score, sql.time(now), incident_id, key],
            )
            if not changed:
                return False
            await connection.execute_query(
                sql(
                    "INSERT INTO timeline (incident_id, at, kind, author, text, data, visibility) "
                    "VALUES (?, ?, 'rated', 'requester', ?, ?, ?)"
                ),
                [incident_id, sql.time(now), f"{score}/5", sql.json({"rating": score}), PUBLIC],
            )
        return True
