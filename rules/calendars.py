"""Service-hour calendars: 7x24, or weekly working hours in a time zone minus holidays.

SLA clocks only run inside service hours, so a P3 logged on Friday evening
against a 5x8 calendar is due on Monday, not on Saturday.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

_SEARCH_LIMIT_DAYS = 3 * 366  # a target that cannot be met within this is a config error


class Calendar(Protocol):
    @property
    def name(self) -> str: ...

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of service time after ``start``."""
        ...


@dataclass(frozen=True, slots=True)
class AlwaysOpen:
    name: str = "24x7"

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return start + duration


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """Weekly hours per weekday (0 = Monday) as (start, end) times, end exclusive."""

    name: str
    zone: ZoneInfo
    hours: Mapping[int, tuple[tuple[time, time], ...]]
    holidays: frozenset[date]

    def add(self, start: datetime, duration: timedelta) -> datetime:
        remaining = duration
        for opens, closes in self._intervals_from(start):
            begin = max(opens, start)
            available = closes - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise ValueError(f"calendar {self.name} has no service hours in the next three years")

    def _intervals_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Service intervals in UTC, in order, that end after ``start``."""
        day = start.astimezone(self.zone).date()
        for offset in range(_SEARCH_LIMIT_DAYS):
            current = day + timedelta(days=offset)
            if current in self.holidays:
                continue
            for opens, closes in self.hours.get(current.weekday(), ()):
                begin = _utc(current, opens, self.zone)
                end = (
                    _utc(current, closes, self.zone)
                    if closes != time(0)
                    else _utc(current + timedelta(days=1), time(0), self.zone)
                )
                if end > start:
                    yield begin, end


def _utc(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)
