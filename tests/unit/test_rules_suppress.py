"""Silences, maintenance windows (one-off and weekly), inhibition."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.records import Event, EventStatus, Severity
from rules.decision import (
    EventOutcome,
    FiringEvent,
    IncidentAction,
    InhibitQuery,
    SilenceState,
    State,
)
from tests.unit.rules_support import NOW, event, incident, ruleset, stored

ALERT = event(labels={"alertname": "HostDown", "instance": "web1:9100", "team": "web"})


def silence(*matchers: tuple[str, str, str], starts: int = -60, ends: int = 60) -> SilenceState:
    return SilenceState(
        id=12,
        matchers=matchers,
        starts_at=NOW + timedelta(minutes=starts),
        ends_at=NOW + timedelta(minutes=ends),
    )


@pytest.mark.parametrize(
    ("active", "suppressed"),
    [
        (silence(("alertname", "=", "HostDown")), True),
        (silence(("team", "=~", "web|db"), ("instance", "!~", "db.*")), True),
        (silence(("team", "!=", "web")), False),
        (silence(("alertname", "=", "HostDown"), starts=10), False),  # not started
        (silence(("alertname", "=", "HostDown"), ends=0), False),  # just ended
    ],
)
def test_silences(tmp_path: Path, active: SilenceState, suppressed: bool) -> None:
    decision = ruleset(tmp_path).evaluate(ALERT, State(silences=(active,)), NOW)
    if suppressed:
        assert (decision.outcome, decision.action, decision.suppressed_by) == (
            EventOutcome.SUPPRESSED,
            IncidentAction.NONE,
            "silence:12",
        )
        assert decision.routes == ()
    else:
        assert decision.outcome is EventOutcome.NEW


def test_silence_also_mutes_an_alert_already_firing(tmp_path: Path) -> None:
    state = State(
        event=stored(), incident=incident(), silences=(silence(("alertname", "=", "HostDown")),)
    )
    assert ruleset(tmp_path).evaluate(ALERT, state, NOW).outcome is EventOutcome.SUPPRESSED


def test_recovery_is_never_suppressed(tmp_path: Path) -> None:
    state = State(
        event=stored(), incident=incident(), silences=(silence(("alertname", "=", "HostDown")),)
    )
    resolved = event(status=EventStatus.RESOLVED, labels=ALERT.labels)
    assert ruleset(tmp_path).evaluate(resolved, state, NOW).action is IncidentAction.RESOLVE


def test_silence_with_a_broken_regex_is_reported_not_fatal(tmp_path: Path) -> None:
    decision = ruleset(tmp_path).evaluate(
        ALERT, State(silences=(silence(("team", "=~", "(")),)), NOW
    )
    assert decision.outcome is EventOutcome.NEW
    assert decision.rule_errors[0].startswith("silence:12:")


MAINTENANCE = """
maintenance:
  - name: db-move
    match: {labels.team: web}
    start: 2025-03-03T08:00:00+00:00
    end: 2025-03-03T10:00:00+00:00
  - name: sunday-backup
    match: {labels.team: backup}
    weekly: {days: [sun], start: "23:00", duration: 3h, timezone: Europe/Berlin}
  - name: weekdays
    match: {labels.team: batch}
    weekly: {days: [mon-fri], start: "12:00", duration: 30m, timezone: Europe/Berlin}
"""

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("team", "now", "window"),
    [
        ("web", NOW, "db-move"),
        ("web", NOW + timedelta(hours=1), ""),  # ended at 10:00 UTC
        ("db", NOW, ""),  # does not match
        ("backup", datetime(2025, 3, 9, 23, 30, tzinfo=BERLIN), "sunday-backup"),
        ("backup", datetime(2025, 3, 10, 1, 59, tzinfo=BERLIN), "sunday-backup"),  # past midnight
        ("backup", datetime(2025, 3, 10, 2, 0, tzinfo=BERLIN), ""),
        ("backup", datetime(2025, 3, 8, 23, 30, tzinfo=BERLIN), ""),  # Saturday
        ("batch", datetime(2025, 3, 5, 12, 15, tzinfo=BERLIN), "weekdays"),
        ("batch", datetime(2025, 3, 8, 12, 15, tzinfo=BERLIN), ""),
    ],
)
def test_maintenance_windows(tmp_path: Path, team: str, now: datetime, window: str) -> None:
    alert = event(labels={"team": team})
    decision = ruleset(tmp_path, MAINTENANCE).evaluate(alert, State(), now)
    expected = f"maintenance:{window}" if window else ""
    assert decision.suppressed_by == expected
    assert (decision.outcome is EventOutcome.SUPPRESSED) is bool(window)


INHIBIT = """
inhibit:
  - name: switch-down
    source: {alertname: SwitchDown, severity: critical}
    target: {labels.severity: warning}
    equal: [site]
"""


def warning(site: str = "berlin") -> Event:
    return event(
        severity=Severity.MEDIUM,
        labels={"alertname": "HighLatency", "severity": "warning", "site": site},
    )


def switch(site: str = "berlin", severity: Severity = Severity.CRITICAL) -> FiringEvent:
    return FiringEvent(
        fingerprint="sw",
        source="prometheus",
        name="SwitchDown",
        resource="sw1",
        severity=severity,
        labels={"alertname": "SwitchDown", "site": site},
    )


def test_inhibit_query_for_storage(tmp_path: Path) -> None:
    lookup = ruleset(tmp_path, INHIBIT).lookup(warning(), NOW)
    assert lookup.inhibit_queries == (
        InhibitQuery("switch-down", (("alertname", "SwitchDown"), ("site", "berlin"))),
    )


def test_no_inhibit_query_when_the_target_does_not_match(tmp_path: Path) -> None:
    assert ruleset(tmp_path, INHIBIT).lookup(ALERT, NOW).inhibit_queries == ()


@pytest.mark.parametrize(
    ("source", "target_site", "inhibited"),
    [
        (switch(), "berlin", True),
        (switch(site="paris"), "berlin", False),  # equal labels differ
        (switch(severity=Severity.HIGH), "berlin", False),  # source matcher on severity fails
    ],
)
def test_inhibition(tmp_path: Path, source: FiringEvent, target_site: str, inhibited: bool) -> None:
    decision = ruleset(tmp_path, INHIBIT).evaluate(
        warning(target_site), State(firing_sources=(source,)), NOW
    )
    assert (decision.outcome is EventOutcome.INHIBITED) is inhibited
    assert decision.suppressed_by == ("inhibit:switch-down" if inhibited else "")


def test_an_event_never_inhibits_itself(tmp_path: Path) -> None:
    loaded = ruleset(
        tmp_path,
        "inhibit:\n  - {name: self, source: {site: berlin}, target: {site: berlin}, "
        "equal: [site]}\n",
    )
    target = event(fingerprint="sw", labels={"site": "berlin"})
    assert (
        loaded.evaluate(target, State(firing_sources=(switch(),)), NOW).outcome is EventOutcome.NEW
    )
