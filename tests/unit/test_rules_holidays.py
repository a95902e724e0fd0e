"""Calendars with a country's public holidays, days off and make-up working days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from holidays import country_holidays

from core.errors import ConfigError
from rules.calendars import WorkingHours
from tests.unit.rules_support import ruleset

BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEKDAYS = {day: ((time(8), time(17)),) for day in range(5)}


def office(**changes: object) -> WorkingHours:
    fields: dict[str, object] = {
        "name": "office",
        "zone": BERLIN,
        "hours": WEEKDAYS,
        "holidays": frozenset(),
    }
    fields.update(changes)
    return WorkingHours(**fields)  # type: ignore[arg-type]


def at(year: int, month: int, day: int, hour: int, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime(year, month, day, hour, tzinfo=zone)


def test_christmas_2026_is_not_service_time_with_the_country_of_the_calendar() -> None:
    bavaria = office(country=country_holidays("DE", subdiv="BY"))
    # Thursday 24 Dec 16:00 + 2h: one hour that day, then Friday 25 Dec is a holiday.
    assert bavaria.add(at(2026, 12, 24, 16), timedelta(hours=2)) == at(2026, 12, 28, 9)
    assert office().add(at(2026, 12, 24, 16), timedelta(hours=2)) == at(2026, 12, 25, 9)


def test_days_listed_by_hand_are_off_on_top_of_the_country() -> None:
    bavaria = office(country=country_holidays("DE", subdiv="BY"), holidays={date(2026, 12, 24)})
    assert bavaria.add(at(2026, 12, 23, 16), timedelta(hours=2)) == at(2026, 12, 28, 9)


def test_a_subdivision_has_its_own_holidays() -> None:
    # Epiphany (6 Jan 2027, a Wednesday) is a holiday in Bavaria, not in Berlin.
    bavaria = office(country=country_holidays("DE", subdiv="BY"))
    berlin = office(country=country_holidays("DE", subdiv="BE"))
    start, two_hours = at(2027, 1, 5, 16), timedelta(hours=2)
    assert bavaria.add(start, two_hours) == at(2027, 1, 7, 9)
    assert berlin.add(start, two_hours) == at(2027, 1, 6, 9)


def test_a_chinese_make_up_saturday_is_a_working_day() -> None:
    china = office(zone=SHANGHAI, country=country_holidays("CN"))
    # Saturday 14 Feb 2026 is worked to bridge the Spring Festival that follows.
    assert china.add(at(2026, 2, 13, 16, SHANGHAI), timedelta(hours=2)) == at(
        2026, 2, 14, 9, SHANGHAI
    )
    # ... and the festival days after it are off: Monday 16 Feb .. Monday 23 Feb.
    assert china.add(at(2026, 2, 14, 16, SHANGHAI), timedelta(hours=2)) == at(
        2026, 2, 24, 9, SHANGHAI
    )


def test_make_up_working_days_listed_by_hand() -> None:
    calendar = office(working_days=frozenset({date(2026, 3, 7)}))  # a Saturday
    assert calendar.add(at(2026, 3, 6, 16), timedelta(hours=2)) == at(2026, 3, 7, 9)


def test_a_calendar_names_its_country_in_yaml(tmp_path: Path) -> None:
    compiled = ruleset(
        tmp_path,
        """
calendars:
  - name: office
    timezone: Europe/Berlin
    hours: {mon-fri: "08:00-17:00"}
    country: DE-BY
    holidays: [2026-12-24]
    working_days: [2026-12-19]
""",
    )
    calendar = compiled.calendars["office"]
    assert isinstance(calendar, WorkingHours)
    assert calendar.is_holiday(date(2026, 12, 25)) and calendar.is_holiday(date(2026, 12, 24))
    assert calendar.is_make_up_day(date(2026, 12, 19))
    assert not calendar.is_holiday(date(2026, 12, 23))


@pytest.mark.parametrize(
    ("country", "message"),
    [
        ("XX", '"XX" is not a country code the holidays package knows'),
        ("DE-XY", '"XY" is not a subdivision of DE (known: BB, BE'),
    ],
)
def test_an_unknown_country_or_subdivision_is_a_load_error(
    tmp_path: Path, country: str, message: str
) -> None:
    rules = f"""
calendars:
  - name: office
    hours: {{mon-fri: "08:00-17:00"}}
    country: {country}
"""
    with pytest.raises(ConfigError) as raised:
        ruleset(tmp_path, rules)
    assert len(raised.value.problems) == 1
    assert raised.value.problems[0].startswith(f"{tmp_path}/rules/10-test.yaml:4: {message}")
