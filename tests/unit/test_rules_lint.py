"""Load-time warnings: keys that differ between firing and resolved, calendars without holidays."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rules.loader import load_ruleset
from tests.unit.rules_support import ruleset

EXAMPLE_RULES = Path(__file__).resolve().parents[2] / "config" / "rules"
TODAY = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)

RULE = """
rules:
  - name: mail-alerts
    description: d
    match: {{kind: email}}
    {key}
"""


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ('fingerprint: "{mail.subject}"', "mail.subject"),
        ("fingerprint: [resource, summary]", "summary"),
        ("fingerprint: [resource, status]", "status"),
        ('correlate: {key: "x:{annotations.value}", window: 1h}', "annotations.value"),
        ('correlate: {key: "{resource}:{description}", window: 1h}', "description"),
    ],
)
def test_a_key_from_a_field_that_changes_on_recovery_is_warned_about(
    tmp_path: Path, key: str, field: str
) -> None:
    warnings = ruleset(tmp_path, RULE.format(key=key)).lint.warnings(TODAY)
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"{tmp_path}/rules/10-test.yaml:5: warning: ")
    assert f'uses "{field}"' in warnings[0]


@pytest.mark.parametrize(
    "key",
    [
        "fingerprint: [kind, resource, name, labels.alertname]",
        'correlate: {key: "host:{labels.instance|host}", window: 1h}',
    ],
)
def test_keys_from_stable_fields_load_without_warnings(tmp_path: Path, key: str) -> None:
    assert ruleset(tmp_path, RULE.format(key=key)).lint.warnings(TODAY) == []


CALENDAR = """
calendars:
  - name: office
    timezone: Europe/Berlin
    hours: {{mon-fri: "08:00-17:00"}}
    {holidays}
"""


def test_a_calendar_without_holidays_this_year_or_next_is_warned_about(tmp_path: Path) -> None:
    rules = CALENDAR.format(holidays="holidays: [2025-12-25, 2026-12-25]")
    warnings = ruleset(tmp_path, rules).lint.warnings(TODAY)
    assert warnings == [
        f'{tmp_path}/rules/10-test.yaml:2: warning: calendar "office" has no holidays in 2027, '
        "so its SLA clocks count holidays as service time; set country (e.g. DE-BY, CN) or "
        "list the days under holidays"
    ]
    assert ruleset(tmp_path, rules).lint.warnings(datetime(2025, 6, 1, tzinfo=UTC)) == []


def test_a_calendar_with_a_country_has_holidays_every_year(tmp_path: Path) -> None:
    compiled = ruleset(tmp_path, CALENDAR.format(holidays="country: CN"))
    for year in (2026, 2031, 2040):
        assert compiled.lint.warnings(datetime(year, 1, 1, tzinfo=UTC)) == []


def test_the_example_rules_load_without_warnings() -> None:
    compiled = load_ruleset(EXAMPLE_RULES, EXAMPLE_RULES.parent / "catalogue.yaml")
    assert compiled.lint.warnings(TODAY) == []
