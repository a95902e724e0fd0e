"""What the console shows beside an incident's JSON: its forwarding (outbox rows
with their state and the sink's last answer)."""

from __future__ import annotations

from typing import Any

from storage import models
from storage.database import reads_database
from storage.views import _query, _time


@reads_database("reading forwarding")
async def forwarding_rows(incident_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """The incident's outbox rows, newest first."""
    rows = await models.OutboxRow.filter(incident_id=incident_id).order_by("-id").limit(limit)
    return [
        {
            "id": row.id,
            "sink": row.sink,
            "action": row.action,
            "state": row.state,
            "attempts": row.attempts,
            "error": row.last_error or "",
            "response": (row.response or "")[:2000],
            "created_at": _time(row.created_at),
            "delivered_at": _time(row.delivered_at),
        }
        for row in rows
    ]


@reads_database("reading the timeline head")
async def timeline_head() -> int:
    """The newest timeline entry's id: it grows with every change to any incident."""
    rows = await _query("SELECT MAX(id) AS head FROM timeline", [])
    return int(rows[0]["head"] or 0) if rows else 0


@reads_database("reading changed incidents")
async def changed_since(after: int, limit: int = 200) -> tuple[int, list[int]]:
    """Incidents with timeline entries after ``after`` (a primary-key range), and the
    newest entry's id."""
    rows = await _query(
        "SELECT id, incident_id FROM timeline WHERE id > ? ORDER BY id LIMIT ?", [after, limit]
    )
    if not rows:
        return after, []
    ids = sorted({int(row["incident_id"]) for row in rows})
    return int(rows[-1]["id"]), ids
