"""Correlation keys and windows, topology through the catalogue, N-in-M thresholds."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from rules.decision import EventOutcome, IncidentAction, IncidentStatus, State
from tests.unit.rules_support import NOW, event, incident, ruleset, stored

BY_SERVICE = """
rules:
  - name: by-service
    description: d
    set: {service: "{labels.service}"}
    correlate: {key: "svc:{service}", window: 30m}
"""


def test_correlation_key_from_template(tmp_path: Path) -> None:
    loaded = ruleset(tmp_path, BY_SERVICE)
    lookup = loaded.lookup(event(labels={"service": "shop"}), NOW)
    assert lookup.correlation_key == "svc:shop"


def test_key_with_an_empty_part_falls_back_to_the_fingerprint(tmp_path: Path) -> None:
    lookup = ruleset(tmp_path, BY_SERVICE).lookup(event(labels={}), NOW)
    assert lookup.correlation_key == lookup.fingerprint


@pytest.mark.parametrize(
    ("updated_ago", "status", "outcome", "action"),
    [
        (timedelta(minutes=10), IncidentStatus.NEW, EventOutcome.CORRELATED, IncidentAction.JOIN),
        (
            timedelta(minutes=10),
            IncidentStatus.ACKNOWLEDGED,
            EventOutcome.CORRELATED,
            IncidentAction.JOIN,
        ),
        (timedelta(minutes=45), IncidentStatus.NEW, EventOutcome.NEW, IncidentAction.OPEN),
    ],
)
def test_join_open_incident_of_the_key_within_window(
    tmp_path: Path,
    updated_ago: timedelta,
    status: IncidentStatus,
    outcome: EventOutcome,
    action: IncidentAction,
) -> None:
    state = State(incident=incident(id=5, status=status, updated_at=NOW - updated_ago))
    decision = ruleset(tmp_path, BY_SERVICE).evaluate(event(labels={"service": "shop"}), state, NOW)
    assert (decision.outcome, decision.action) == (outcome, action)
    assert decision.incident_id == (5 if action is IncidentAction.JOIN else None)


TOPOLOGY_CATALOGUE = """
cis:
  - {name: sw1}
  - {name: router1}
  - {name: web1, depends_on: [sw1]}
  - {name: app1, depends_on: [web1, router1]}
"""


def topology(mode: str) -> str:
    return f"rules:\n  - {{name: t, description: d, topology: {mode}}}\n"


def test_lookup_names_ancestors_nearest_first(tmp_path: Path) -> None:
    loaded = ruleset(tmp_path, topology("join"), TOPOLOGY_CATALOGUE)
    assert loaded.lookup(event(resource="app1"), NOW).ancestor_cis == ("web1", "router1", "sw1")


def test_no_ancestors_asked_without_topology(tmp_path: Path) -> None:
    loaded = ruleset(tmp_path, catalogue=TOPOLOGY_CATALOGUE)
    assert loaded.lookup(event(resource="app1"), NOW).ancestor_cis == ()


def test_topology_join_picks_the_nearest_failed_parent(tmp_path: Path) -> None:
    loaded = ruleset(tmp_path, topology("join"), TOPOLOGY_CATALOGUE)
    state = State(
        ancestor_incidents=(incident(id=1, ci="sw1"), incident(id=2, ci="web1")),
    )
    decision = loaded.evaluate(event(resource="app1"), state, NOW)
    assert (decision.outcome, decision.action, decision.incident_id) == (
        EventOutcome.CORRELATED,
        IncidentAction.JOIN,
        2,
    )


def test_topology_ignores_resolved_parents(tmp_path: Path) -> None:
    loaded = ruleset(tmp_path, topology("join"), TOPOLOGY_CATALOGUE)
    state = State(ancestor_incidents=(incident(id=1, ci="sw1", status=IncidentStatus.RESOLVED),))
    assert loaded.evaluate(event(resource="web1"), state, NOW).action is IncidentAction.OPEN


def test_topology_inhibit_mutes_children(tmp_path: Path) -> None:
    loaded = ruleset(tmp_path, topology("inhibit"), TOPOLOGY_CATALOGUE)
    state = State(ancestor_incidents=(incident(id=1, ci="sw1"),))
    decision = loaded.evaluate(event(resource="web1"), state, NOW)
    assert (decision.outcome, decision.action, decision.suppressed_by) == (
        EventOutcome.INHIBITED,
        IncidentAction.NONE,
        "topology:sw1",
    )


THRESHOLD = "rules:\n  - {name: t, description: d, threshold: {count: 3, window: 10m}}\n"


@pytest.mark.parametrize(
    ("recent", "outcome", "action"),
    [
        (0, EventOutcome.PENDING, IncidentAction.NONE),
        (1, EventOutcome.PENDING, IncidentAction.NONE),
        (2, EventOutcome.NEW, IncidentAction.OPEN),
        (9, EventOutcome.NEW, IncidentAction.OPEN),
    ],
)
def test_threshold(
    tmp_path: Path, recent: int, outcome: EventOutcome, action: IncidentAction
) -> None:
    decision = ruleset(tmp_path, THRESHOLD).evaluate(event(), State(recent_count=recent), NOW)
    assert (decision.outcome, decision.action) == (outcome, action)
    if action is IncidentAction.OPEN:
        assert decision.adopt_pending_since == NOW - timedelta(minutes=10)
    else:
        assert decision.routes == ()


def test_threshold_asks_storage_to_count(tmp_path: Path) -> None:
    assert ruleset(tmp_path, THRESHOLD).lookup(event(), NOW).count_since == NOW - timedelta(
        minutes=10
    )
    assert ruleset(tmp_path / "none").lookup(event(), NOW).count_since is None


def test_threshold_does_not_hold_back_an_open_incident(tmp_path: Path) -> None:
    state = State(event=stored(), incident=incident(), recent_count=0)
    assert (
        ruleset(tmp_path, THRESHOLD).evaluate(event(), state, NOW).action is IncidentAction.UPDATE
    )
