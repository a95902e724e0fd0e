"""What the console's explain page reads about one event: the event as stored (with
its correlation key, transitions and last intake record), its recent occurrences
(each with the outcome the rules gave), and an intake record with its raw bytes."""

from __future__ import annotations

from typing import Any

from core.records import IntakeRecord
from storage import models
from storage.database import reads_database
from storage.records import record_from_row
from storage.views import _time, event_json


@reads_database("reading event")
async def stored_event(event_id: int) -> dict[str, Any] | None:
    row = await models.Event.filter(id=event_id).first()
    if row is None:
        return None
    body = event_json(row)
    body["correlation_key"] = row.correlation_key
    body["transitions"] = list(row.transitions or [])
    body["last_intake_id"] = row.last_intake_id
    return body


@reads_database("reading occurrences")
async def occurrences(event_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The event's recent occurrences, newest first: when, which record, what outcome."""
    rows = await models.Occurrence.filter(event_id=event_id).order_by("-id").limit(limit)
    return [
        {
            "at": _time(row.at),
            "intake_id": row.intake_id,
            "outcome": row.outcome,
            "incident_id": row.incident_id,
            "correlation_key": row.correlation_key,
        }
        for row in rows
    ]


@reads_database("reading intake record")
async def intake_record(intake_id: int) -> tuple[IntakeRecord, dict[str, Any]] | None:
    """The record as the parsers read it, and what the intake noted about it."""
    row = await models.IntakeRecordRow.filter(id=intake_id).first()
    if row is None:
        return None
    notes = {
        "state": row.state,
        "error": row.error or "",
        "size": row.size,
        "processed_at": _time(row.processed_at),
    }
    return record_from_row(row), notes
