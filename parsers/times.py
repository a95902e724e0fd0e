"""Reading times and time zones the way every parser kind does: RFC 3339 in UTC, Go's
zero time as unset, epoch seconds or milliseconds, IANA zone names."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


def _known_zone(name: str) -> str:
    zone_named(name)
    return name


def zone_named(name: str) -> tzinfo:
    """The time zone called ``name`` (IANA); ValueError for an unknown name."""
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r} (expected an IANA name such as 'Europe/Berlin')"
        ) from exc


# An option holding an IANA time zone name, checked when the config loads.
TimeZoneName = Annotated[str, AfterValidator(_known_zone)]


# How Go's zero time.Time is written, e.g. in every firing alert's endsAt.
GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def as_utc(moment: datetime) -> datetime | None:
    """An aware time in UTC; None at the edges of the calendar, where that overflows."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


class BadTime(Exception):
    """A value that is not a time; ``expected`` says what would be."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def read_time(value: Any) -> datetime | None:
    """A time field's value in UTC (None: unset); BadTime when it is not a time."""
    if value is None or value == "" or value == GO_ZERO_TIME:
        return None
    if not isinstance(value, str):
        raise BadTime("an RFC 3339 time string")
    parsed = iso_datetime(value)
    if parsed is None:
        raise BadTime("an RFC 3339 time such as '2024-05-01T10:00:00Z'")
    # Go's zero time.Time ("0001-01-01T00:00:00Z") is how Go sources say "unset".
    if parsed.year == 1:
        return None
    in_utc = as_utc(parsed)
    if in_utc is None:
        raise BadTime("a time between the years 2 and 9998")
    return in_utc


def valid_time(value: Any) -> bool:
    """Whether ``get_time`` accepts ``value`` as a field's value."""
    try:
        read_time(value)
    except BadTime:
        return False
    return True


def parse_timestamp(value: Any) -> datetime | None:
    """ISO 8601 text or epoch seconds/milliseconds; None when absent or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value:
        return iso_datetime(value)
    return None


def iso_datetime(text: str) -> datetime | None:
    """ISO 8601 / RFC 3339 text (any fraction of a second); naive means UTC."""
    try:
        # RFC 3339 allows a lower-case "z"; fromisoformat wants "Z".
        parsed = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
