"""The report page's form: whole days in the viewer's zone, the quick periods, and
the reasons a form is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from multidict import MultiDict

from gateway.console.reportform import FormProblem, period_of, quick_choices, read_form
from gateway.web.i18n import Translator
from gateway.web.zones import viewer_zone

NOW = datetime(2026, 1, 15, 20, 0, tzinfo=UTC)  # 16 January already in Shanghai
ENGLISH = Translator("en", {})


def test_empty_form_is_the_last_30_days_up_to_today_in_the_viewers_zone() -> None:
    zone = viewer_zone("Asia/Shanghai")
    form = read_form(MultiDict(), NOW.astimezone(zone).date())
    assert (form.start, form.end) == ("2025-12-18", "2026-01-16")
    period = period_of(form, zone, NOW, ENGLISH)
    assert period.start.isoformat() == "2025-12-18T00:00:00+08:00"
    assert period.end.isoformat() == "2026-01-17T00:00:00+08:00"  # the last day included
    assert (period.service, period.priority) == (None, None)


def test_days_across_a_daylight_saving_change_start_at_local_midnight() -> None:
    zone = viewer_zone("Europe/Berlin")
    form = read_form(MultiDict({"from": "2026-03-01", "to": "2026-03-31"}), date(2026, 4, 2))
    period = period_of(form, zone, NOW, ENGLISH)
    assert period.start.utcoffset() != period.end.utcoffset()
    assert (period.start.hour, period.end.hour) == (0, 0)


def test_quick_periods_in_january_reach_back_into_last_year() -> None:
    chosen = {label: (first, last) for label, first, last in quick_choices(date(2026, 1, 16))}
    assert chosen["This month"] == (date(2026, 1, 1), date(2026, 1, 16))
    assert chosen["Last month"] == (date(2025, 12, 1), date(2025, 12, 31))
    assert chosen["Last 90 days"] == (date(2025, 10, 19), date(2026, 1, 16))
    assert chosen["Last 30 days"][0] == date(2025, 12, 18)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"from": "2026-02-01", "to": "2026-01-01"}, "The start (2026-02-01) is after the end"),
        ({"from": "2024-12-01", "to": "2026-01-05"}, "spans 401 days"),
        ({"from": "yesterday"}, "From must be a date"),
        ({"to": "2026-13-01"}, "To must be a date"),
        ({"priority": "P9"}, "Priority must be one of"),
    ],
)
def test_forms_that_cannot_be_reported_on_say_why(fields: dict[str, str], reason: str) -> None:
    form = read_form(MultiDict(fields), date(2026, 1, 16))
    with pytest.raises(FormProblem, match=reason.replace("(", r"\(").replace(")", r"\)")):
        period_of(form, UTC, NOW, ENGLISH)


def test_four_hundred_days_is_the_most() -> None:
    form = read_form(MultiDict({"from": "2024-12-02", "to": "2026-01-05"}), date(2026, 1, 16))
    period = period_of(form, UTC, NOW, ENGLISH)
    assert (period.end - period.start).days == 400


def test_reasons_in_chinese() -> None:
    chinese = Translator(
        "zh", {"The start ({first}) is after the end ({last}).": "{first} 晚于 {last}"}
    )
    form = read_form(MultiDict({"from": "2026-02-01", "to": "2026-01-01"}), date(2026, 1, 16))
    with pytest.raises(FormProblem, match="2026-02-01 晚于 2026-01-01"):
        period_of(form, UTC, NOW, chinese)
