"""The roll-up's day of a moment is its UTC date, whatever zone the moment is in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from storage.rollup import day_of


def test_a_utc_moment_is_its_own_date() -> None:
    assert day_of(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)) == "2026-12-31"


def test_a_moment_in_another_zone_counts_on_its_utc_date() -> None:
    shanghai = datetime(2027, 1, 1, 7, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert day_of(shanghai) == "2026-12-31"
    assert day_of(datetime(2026, 3, 1, 0, 15, tzinfo=timezone(timedelta(hours=1)))) == "2026-02-28"
    assert (
        day_of(datetime(2026, 3, 1, 23, 15, tzinfo=timezone(timedelta(hours=-1)))) == "2026-03-02"
    )
