"""Times in the viewer's time zone: the ``tz`` cookie that the page's script sets from
the browser (an IANA name), UTC when absent or unknown."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TZ_COOKIE = "tz"


def viewer_zone(cookie: str | None) -> tzinfo:
    if not cookie or len(cookie) > 64 or ".." in cookie or cookie.startswith("/"):
        return UTC
    try:
        return ZoneInfo(cookie)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or "UTC"


def local_time(value: str | datetime | None, zone: tzinfo, seconds: bool = False) -> str:
    """An API time (ISO 8601) as the viewer reads it: ``2026-12-05 18:04``."""
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else _parse(value)
    if moment is None:
        return str(value)
    shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return moment.astimezone(zone).strftime(shape)


def _parse(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
