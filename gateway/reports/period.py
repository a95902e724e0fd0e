"""Reading a report's period and filters (``from``, ``to``, ``service``, ``priority``):
what cannot be read, or asks for too much, is refused with the reason."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from storage import Period

MAX_DAYS = 400
# what from and to may look like (OpenAPI says the same): a date, or a date and time
# with an optional offset; empty is absent
MOMENT = r"^(\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?)?$"
_MOMENT = re.compile(MOMENT)
# times a report can be about: far from the ends of the calendar, where the margins
# added to a period (30 days before, the service clock's after) would overflow
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
PRIORITIES = ("P1", "P2", "P3", "P4")


class BadPeriod(ValueError):
    """A period or filter that cannot be reported on: 400 with the reason."""


def parse_time(raw: str, name: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or time (UTC when it names no offset)."""
    try:
        if not _MOMENT.match(raw):
            raise ValueError(raw)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadPeriod(
            f"{name} must be an ISO 8601 date or time such as 2026-11-01, got {raw[:40]!r}"
        ) from None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        within = EARLIEST <= value <= LATEST
    except OverflowError:  # an offset that takes it past the ends of the calendar
        within = False
    if not within:
        raise BadPeriod(f"{name} must be between 1970 and 9000, got {raw[:40]!r}")
    return value


def read_period(
    start: str | None,
    end: str | None,
    service: str | None,
    priority: str | None,
    now: datetime,
) -> Period:
    """From and to default to the last 30 days up to ``now``; ``to`` is exclusive."""
    high = parse_time(end, "to") if end else now
    low = parse_time(start, "from") if start else high - timedelta(days=30)
    if low > high:
        raise BadPeriod(f"from ({low.isoformat()}) is after to ({high.isoformat()})")
    if high - low > timedelta(days=MAX_DAYS):
        raise BadPeriod(f"the period spans more than {MAX_DAYS} days; ask for a shorter one")
    if priority is not None and priority not in PRIORITIES:
        raise BadPeriod(f"priority must be one of {', '.join(PRIORITIES)}, got {priority[:10]!r}")
    if service is not None and ("\x00" in service or len(service) > 256):
        raise BadPeriod("service must be a service name (at most 256 characters, no NUL)")
    return Period(low, high, service or None, priority or None)
