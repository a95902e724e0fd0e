"""Service calendars across the daylight-saving changes of 2026 in Europe/Berlin:
office hours are counted in local time, 24x7 in real elapsed time.

  2026-03-29 (Sunday): 02:00 CET -> 03:00 CEST, a 23-hour day (UTC+1 before, UTC+2 after)
  2026-10-25 (Sunday): 03:00 CEST -> 02:00 CET, a 25-hour day (UTC+2 before, UTC+1 after)
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules.calendars import AlwaysOpen, Calendar, WorkingHours
from rules.decision import Priority, SlaDue
from rules.service_time import ServiceClock
from rules.sla import EscalationAction, SlaTable, SlaTarget

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = WorkingHours(  # 5x8: Monday to Friday 09:00-17:00 local time
    name="office",
    zone=BERLIN,
    hours={day: ((time(9), time(17)),) for day in range(5)},
    holidays=frozenset(),
)
ALL_DAY = WorkingHours(  # every day 00:00-24:00 local time: 24x7 written as hours
    name="all-day",
    zone=BERLIN,
    hours={day: ((time(0), time(0)),) for day in range(7)},
    holidays=frozenset(),
)
NIGHT = WorkingHours(  # Sundays 01:00-04:00 local time: the hours that change
    name="night",
    zone=BERLIN,
    hours={6: ((time(1), time(4)),)},
    holidays=frozenset(),
)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# Friday 16:00 local before a change -> Monday 10:00 local after it: Friday 16-17 (1h)
# + Monday 09-10 (1h) = 2 service hours, whatever the clocks did on Sunday.
AUTUMN_FRIDAY = utc(10, 23, 14)  # Fri 10-23 16:00 CEST (UTC+2)
AUTUMN_MONDAY = utc(10, 26, 9)  # Mon 10-26 10:00 CET (UTC+1)
SPRING_FRIDAY = utc(3, 27, 15)  # Fri 03-27 16:00 CET (UTC+1)
SPRING_MONDAY = utc(3, 30, 8)  # Mon 03-30 10:00 CEST (UTC+2)


@pytest.mark.parametrize(
    ("start", "end"), [(AUTUMN_FRIDAY, AUTUMN_MONDAY), (SPRING_FRIDAY, SPRING_MONDAY)]
)
def test_friday_afternoon_to_monday_morning_is_two_office_hours(
    start: datetime, end: datetime
) -> None:
    assert OFFICE.elapsed(start, end) == timedelta(hours=2)
    assert OFFICE.add(start, timedelta(hours=2)) == end
    clock = ServiceClock(OFFICE, utc(1, 1, 0), utc(12, 31, 0))
    assert clock.between(start.timestamp(), end.timestamp()) == 7200.0
    # the wall clock: autumn 14:00Z Fri -> 09:00Z Mon = 72h - 5h = 67h,
    # spring 15:00Z Fri -> 08:00Z Mon = 72h - 7h = 65h
    assert end - start == timedelta(hours=67 if start.month == 10 else 65)


NIGHT_CLOSES = {10: utc(10, 25, 3), 3: utc(3, 29, 2)}  # 04:00 CET, 04:00 CEST


@pytest.mark.parametrize(
    ("calendar", "start", "end", "hours"),
    [
        # Sat 12:00 local -> Sun 12:00 local: 25 real hours in autumn, 23 in spring
        (AlwaysOpen(), utc(10, 24, 10), utc(10, 25, 11), 25),
        (AlwaysOpen(), utc(3, 28, 11), utc(3, 29, 10), 23),
        (ALL_DAY, utc(10, 24, 10), utc(10, 25, 11), 25),
        (ALL_DAY, utc(3, 28, 11), utc(3, 29, 10), 23),
        # the whole Sunday: 00:00 CEST (22:00Z Sat) -> 00:00 CET (23:00Z Sun) = 25h
        (ALL_DAY, utc(10, 24, 22), utc(10, 25, 23), 25),
        # 00:00 CET (23:00Z Sat) -> 00:00 CEST (22:00Z Sun) = 23h
        (ALL_DAY, utc(3, 28, 23), utc(3, 29, 22), 23),
        # 01:00-04:00 local on the day the clocks go back: 01:00 CEST (23:00Z) ->
        # 04:00 CET (03:00Z) = 4 real hours (02:00-03:00 happens twice)
        (NIGHT, utc(10, 24, 12), utc(10, 25, 12), 4),
        # and on the day they go forward: 01:00 CET (00:00Z) -> 04:00 CEST (02:00Z) = 2h
        (NIGHT, utc(3, 28, 12), utc(3, 29, 12), 2),
    ],
)
def test_open_hours_across_a_change_are_real_hours(
    calendar: Calendar, start: datetime, end: datetime, hours: int
) -> None:
    assert calendar.elapsed(start, end) == timedelta(hours=hours)
    # the last service hour ends at ``end``, or for the night hours when they close
    closes = calendar.add(start, timedelta(hours=hours))
    assert closes == (end if calendar is not NIGHT else NIGHT_CLOSES[end.month])
    clock = ServiceClock(calendar, utc(1, 1, 0), utc(12, 31, 0))
    assert clock.between(start.timestamp(), end.timestamp()) == hours * 3600.0


def test_office_hours_open_and_close_at_local_time_on_both_sides() -> None:
    # Monday 09:00 local is 07:00Z in summer time and 08:00Z in winter time
    assert list(OFFICE.intervals(utc(10, 23, 0), utc(10, 27, 0))) == [
        (utc(10, 23, 7), utc(10, 23, 15)),  # Fri 09:00-17:00 CEST
        (utc(10, 26, 8), utc(10, 26, 16)),  # Mon 09:00-17:00 CET
    ]
    assert list(OFFICE.intervals(utc(3, 27, 0), utc(3, 31, 0))) == [
        (utc(3, 27, 8), utc(3, 27, 16)),  # Fri 09:00-17:00 CET
        (utc(3, 30, 7), utc(3, 30, 15)),  # Mon 09:00-17:00 CEST
    ]


TABLE = SlaTable(
    targets={
        (Priority.P1, ""): SlaTarget(AlwaysOpen(), timedelta(minutes=15), timedelta(hours=4)),
        (Priority.P3, ""): SlaTarget(OFFICE, timedelta(hours=4), timedelta(hours=16)),
    },
    near_breach=0.75,
    on_near_breach=EscalationAction(),
    on_breach=EscalationAction(),
)


@pytest.mark.parametrize(
    ("priority", "opened", "due"),
    [
        # P3 office, Fri 16:00 local: response 4h = Fri 1h + Mon 3h -> Mon 12:00 local;
        # resolution 16h = Fri 1h + Mon 8h + Tue 7h -> Tue 16:00 local
        (Priority.P3, AUTUMN_FRIDAY, SlaDue(utc(10, 26, 11), utc(10, 27, 15), "office")),
        (Priority.P3, SPRING_FRIDAY, SlaDue(utc(3, 30, 10), utc(3, 31, 14), "office")),
        # P1 24x7, Sun 01:30 CEST (23:30Z Sat): 15m and 4 real hours later, across the
        # repeated hour: 03:30Z = 04:30 CET, which the wall clock shows 3h later
        (
            Priority.P1,
            utc(10, 24, 23, 30),
            SlaDue(utc(10, 24, 23, 45), utc(10, 25, 3, 30), "24x7"),
        ),
    ],
)
def test_due_times_across_a_change(priority: Priority, opened: datetime, due: SlaDue) -> None:
    assert TABLE.due(priority, "", opened) == due
