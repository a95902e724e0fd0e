"""Service-hour calendars: 7x24, or weekly working hours in a time zone minus holidays.

SLA clocks only run inside service hours, so a P3 logged on Friday evening
against a 5x8 calendar is due on Monday, not on Saturday.

Holidays are a country's public holidays (the ``holidays`` package, computed
for any year when first asked), plus days listed by hand; make-up working
days (China's 调休: a Saturday worked to bridge a holiday) are working days
whatever their weekday, with the hours of the first weekday that has any.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from holidays import HolidayBase

_SEARCH_LIMIT_DAYS = 3 * 366  # a target that cannot be met within this is a config error


class Calendar(Protocol):
    @property
    def name(self) -> str: ...

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of service time after ``start``."""
        ...

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Service time between two moments (zero when ``end`` is not after ``start``)."""
        ...


@dataclass(frozen=True, slots=True)
class AlwaysOpen:
    name: str = "24x7"

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return start + duration

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """Weekly hours per weekday (0 = Monday) as (start, end) times, end exclusive."""

    name: str
    zone: ZoneInfo
    hours: Mapping[int, tuple[tuple[time, time], ...]]
    holidays: frozenset[date]  # listed by hand, on top of the country's
    country: HolidayBase | None = None  # public holidays, years filled in on demand
    working_days: frozenset[date] = frozenset()  # make-up working days listed by hand

    def is_holiday(self, day: date) -> bool:
        if day in self.working_days:
            return False
        return day in self.holidays or (self.country is not None and day in self.country)

    def is_make_up_day(self, day: date) -> bool:
        if day in self.working_days:
            return True
        if self.country is None:
            return False
        _ = day in self.country  # fills in the day's year, its make-up days with it
        return day in self.country.weekend_workdays

    def has_holidays_in(self, year: int) -> bool:
        if any(day.year == year for day in self.holidays):
            return True
        if self.country is None:
            return False
        _ = date(year, 1, 1) in self.country  # fills in the year (computed on demand)
        return any(day.year == year for day in self.country)

    def _hours_on(self, day: date) -> tuple[tuple[time, time], ...]:
        if self.is_make_up_day(day) and not self.hours.get(day.weekday()):
            return next(
                (self.hours[weekday] for weekday in range(5) if self.hours.get(weekday)), ()
            )
        return self.hours.get(day.weekday(), ())

    def add(self, start: datetime, duration: timedelta) -> datetime:
        remaining = duration
        for opens, closes in self._intervals_from(start):
            begin = max(opens, start)
            available = closes - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise ValueError(f"calendar {self.name} has no service hours in the next three years")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        total = timedelta(0)
        if end <= start:
            return total
        for opens, closes in self._intervals_from(start):
            if opens >= end:
                break
            total += min(closes, end) - max(opens, start)
        return total

    def intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Service intervals in UTC, in order, from the one open at ``start`` up to
        ``end``."""
        for opens, closes in self._intervals_from(start):
            if opens >= end:
                return
            yield opens, closes

    def _intervals_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Service intervals in UTC, in order, that end after ``start``."""
        day = start.astimezone(self.zone).date()
        for offset in range(_SEARCH_LIMIT_DAYS):
            current = day + timedelta(days=offset)
            if self.is_holiday(current):
                continue
            for opens, closes in self._hours_on(current):
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
