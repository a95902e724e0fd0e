"""The laid-out service clock answers what walking the calendar answers: a 5x8
calendar in Shanghai with a public holiday, random pairs of moments, some past the
laid-out span (then it walks)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rules.calendars import AlwaysOpen, WorkingHours
from rules.service_time import ServiceClock

OFFICE = WorkingHours(
    name="office",
    zone=ZoneInfo("Asia/Shanghai"),
    hours={day: ((time(9), time(12)), (time(13), time(18))) for day in range(5)},
    holidays=frozenset({date(2026, 10, 1), date(2026, 10, 2)}),
)
START = datetime(2026, 9, 20, tzinfo=UTC)
END = datetime(2026, 11, 20, tzinfo=UTC)


def test_laid_out_clock_matches_the_calendar_walk() -> None:
    clock = ServiceClock(OFFICE, START, END)
    rng = random.Random(5)
    for _ in range(2000):
        begin = START + timedelta(seconds=rng.uniform(0, 70 * 86400))
        finish = begin + timedelta(seconds=rng.expovariate(1 / 200_000))
        expected = OFFICE.elapsed(begin, finish).total_seconds()
        assert abs(clock.between(begin.timestamp(), finish.timestamp()) - expected) < 1e-3


def test_a_friday_evening_to_monday_morning_is_one_service_hour() -> None:
    clock = ServiceClock(OFFICE, START, END)
    friday = datetime(2026, 10, 9, 17, tzinfo=ZoneInfo("Asia/Shanghai"))  # Fri 17:00
    monday = datetime(2026, 10, 12, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert clock.between(friday.timestamp(), monday.timestamp()) == 5400  # 1h + 30m
    holiday = datetime(2026, 10, 1, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert clock.between(holiday.timestamp(), holiday.timestamp() + 7200) == 0


def test_always_open_is_wall_clock_time() -> None:
    clock = ServiceClock(AlwaysOpen(), START, END)
    assert clock.between(100.0, 4000.0) == 3900.0 and clock.between(5.0, 1.0) == 0.0
