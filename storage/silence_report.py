"""Silences as the console lists them: who made each and why, when, and what each
holds now (events whose last evaluation it suppressed, still kept) and when it last
suppressed one, so a silence that matches nothing, or has not for a week, stands out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from storage import models
from storage.actions import silence_json
from storage.database import reads_database
from storage.silence_holds import held_statement, silence_id_of, silence_name
from storage.views import _query, _time, event_json

STALE_AFTER = timedelta(days=7)


@reads_database("reading silences")
async def report_silences(now: datetime, include_expired: bool) -> list[dict[str, Any]]:
    query = models.Silence.all()
    if not include_expired:
        query = query.filter(expired_at__isnull=True, ends_at__gt=now)
    rows = await query.order_by("-id").limit(500)
    held = await _held([row.id for row in rows])
    found = []
    for row in rows:
        body = silence_json(row, now)
        count, last_seen = held.get(row.id, (0, None))
        body["created_at"] = _time(row.created_at)
        body["held"] = count
        body["last_held"] = _time(last_seen)
        body["warning"] = _warning(body["state"], count, last_seen, now)
        found.append(body)
    return found


def _warning(state: str, count: int, last_seen: Any, now: datetime) -> str:
    if state != "active":
        return ""
    if count == 0:
        return "matches_nothing"
    if last_seen is None:
        return "stale"
    seen = datetime.fromisoformat(str(_time(last_seen)).replace("Z", "+00:00"))
    return "stale" if now - seen > STALE_AFTER else ""


async def _held(ids: list[int]) -> dict[int, tuple[int, Any]]:
    """(events held now, when it last matched one) per silence: rows kept by triggers
    on events (storage/silence_holds.py), never a count over the events."""
    if not ids:
        return {}
    rows = await _query(held_statement(len(ids)), [silence_name(number) for number in ids])
    return {silence_id_of(row): (int(row["held"]), row["last_held"]) for row in rows}


@reads_database("reading event")
async def event_by_id(event_id: int) -> dict[str, Any] | None:
    row = await models.Event.filter(id=event_id).first()
    return event_json(row) if row is not None else None
