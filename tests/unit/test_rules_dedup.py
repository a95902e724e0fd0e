"""Fingerprints and the de-duplication window."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from rules.decision import EventOutcome, IncidentAction, IncidentStatus, State
from tests.unit.rules_support import NOW, event, incident, ruleset, stored


def test_fingerprint_from_field_list_ignores_other_labels(tmp_path: Path) -> None:
    loaded = ruleset(
        tmp_path,
        "rules:\n  - {name: r, description: d, fingerprint: [kind, labels.alertname, resource]}\n",
    )
    first = loaded.lookup(event(labels={"alertname": "A", "pod": "x1"}), NOW).fingerprint
    second = loaded.lookup(event(labels={"alertname": "A", "pod": "x2"}), NOW).fingerprint
    other = loaded.lookup(event(labels={"alertname": "B"}), NOW).fingerprint
    assert first == second != other
    assert len(first) == 32


def test_fingerprint_from_template(tmp_path: Path) -> None:
    loaded = ruleset(
        tmp_path, "rules:\n  - {name: r, description: d, fingerprint: '{source}/{resource}'}\n"
    )
    a = loaded.lookup(event(name="A"), NOW).fingerprint
    assert a == loaded.lookup(event(name="B"), NOW).fingerprint
    assert a != loaded.lookup(event(resource="other"), NOW).fingerprint


def test_rule_fingerprint_overrides_the_source_one(tmp_path: Path) -> None:
    loaded = ruleset(tmp_path, "rules:\n  - {name: r, description: d, fingerprint: [resource]}\n")
    assert loaded.lookup(event(fingerprint="from-source"), NOW).fingerprint != "from-source"


def test_default_fingerprint_is_the_sources_or_derived(tmp_path: Path) -> None:
    loaded = ruleset(tmp_path)
    assert loaded.lookup(event(fingerprint="am-1"), NOW).fingerprint == "am-1"
    assert loaded.lookup(event(), NOW).fingerprint == event().default_fingerprint()


WINDOW = "settings: {dedup_window: 1h}\n"


@pytest.mark.parametrize(
    ("last_seen_ago", "incident_status", "outcome", "action"),
    [
        (
            timedelta(minutes=30),
            IncidentStatus.NEW,
            EventOutcome.DEDUPLICATED,
            IncidentAction.UPDATE,
        ),
        (timedelta(hours=2), IncidentStatus.NEW, EventOutcome.NEW, IncidentAction.UPDATE),
        (
            timedelta(minutes=30),
            IncidentStatus.RESOLVED,
            EventOutcome.DEDUPLICATED,
            IncidentAction.NONE,
        ),
        (timedelta(hours=2), IncidentStatus.RESOLVED, EventOutcome.NEW, IncidentAction.REOPEN),
        (timedelta(hours=2), IncidentStatus.CLOSED, EventOutcome.NEW, IncidentAction.OPEN),
    ],
)
def test_dedup_window(
    tmp_path: Path,
    last_seen_ago: timedelta,
    incident_status: IncidentStatus,
    outcome: EventOutcome,
    action: IncidentAction,
) -> None:
    resolved_at = NOW - timedelta(minutes=90) if not incident_status.is_open else None
    state = State(
        event=stored(last_seen=NOW - last_seen_ago),
        incident=incident(status=incident_status, resolved_at=resolved_at),
    )
    decision = ruleset(tmp_path, WINDOW).evaluate(event(), state, NOW)
    assert (decision.outcome, decision.action) == (outcome, action)
    if action is IncidentAction.OPEN:
        assert decision.linked_incident_id == 1


def test_without_window_a_repeat_is_always_a_repeat(tmp_path: Path) -> None:
    state = State(event=stored(last_seen=NOW - timedelta(days=30)), incident=incident())
    assert ruleset(tmp_path).evaluate(event(), state, NOW).outcome is EventOutcome.DEDUPLICATED


def test_rule_dedup_window_overrides_settings(tmp_path: Path) -> None:
    loaded = ruleset(tmp_path, WINDOW + "rules:\n  - {name: r, description: d, dedup_window: 5m}\n")
    state = State(event=stored(last_seen=NOW - timedelta(minutes=10)), incident=incident())
    assert loaded.evaluate(event(), state, NOW).outcome is EventOutcome.NEW
