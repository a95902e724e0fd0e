"""What the console shows beside an incident's JSON: its forwarding (outbox rows
with their state and the sink's last answer)."""

from __future__ import annotations

from typing import Any

from storage import models
from storage.database import reads_database
from storage.views import _time


@reads_database("reading forwarding")
async def forwarding(incident_id: int, limit: int = 200) -> list[dict[str, Any]]:
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
            "created_at": _time(row.created_at),
            "delivered_at": _time(row.delivered_at),
        }
        for row in rows
    ]
