"""Auto-resolve with hold-down, reopen window, new linked incidents, periodic close."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from core.records import EventStatus
from rules.decision import EventOutcome, IncidentAction, IncidentStatus, State
from rules.lifecycle import due_closures, due_resolutions
from tests.unit.rules_support import NOW, event, incident, ruleset, stored

RESOLVED = event(status=EventStatus.RESOLVED)


@pytest.mark.parametrize(
    ("settings", "firing_events", "action", "resolve_after"),
    [
        ("", 1, IncidentAction.RESOLVE, None),
        ("", 2, IncidentAction.UPDATE, None),  # another event still fires
        ("settings: {auto_resolve: false}", 1, IncidentAction.UPDATE, None),
        ("settings: {resolve_hold_down: 5m}", 1, IncidentAction.UPDATE, NOW + timedelta(minutes=5)),
    ],
)
def test_auto_resolve(
    tmp_path: Path, settings: str, firing_events: int, action: IncidentAction, resolve_after: object
) -> None:
    state = State(event=stored(), incident=incident(firing_events=firing_events))
    decision = ruleset(tmp_path, settings).evaluate(RESOLVED, state, NOW)
    assert (decision.outcome, decision.action, decision.incident_id) == (
        EventOutcome.RESOLVED,
        action,
        1,
    )
    assert decision.resolve_after == resolve_after


def test_auto_resolve_per_rule(tmp_path: Path) -> None:
    loaded = ruleset(tmp_path, "rules:\n  - {name: r, description: d, auto_resolve: false}\n")
    state = State(event=stored(), incident=incident())
    assert loaded.evaluate(RESOLVED, state, NOW).action is IncidentAction.UPDATE


@pytest.mark.parametrize(
    ("state", "outcome", "incident_id"),
    [
        (State(), EventOutcome.RESOLVED, None),  # recovery of an unknown event
        (State(event=stored(status=EventStatus.RESOLVED)), EventOutcome.DEDUPLICATED, 1),
        (
            State(event=stored(), incident=incident(status=IncidentStatus.RESOLVED)),
            EventOutcome.RESOLVED,
            1,
        ),
    ],
)
def test_recoveries_that_change_nothing(
    tmp_path: Path, state: State, outcome: EventOutcome, incident_id: int | None
) -> None:
    decision = ruleset(tmp_path).evaluate(RESOLVED, state, NOW)
    assert (decision.outcome, decision.action, decision.incident_id) == (
        outcome,
        IncidentAction.NONE,
        incident_id,
    )


@pytest.mark.parametrize(
    ("resolved_ago", "status", "action", "incident_id", "linked"),
    [
        (timedelta(minutes=30), IncidentStatus.RESOLVED, IncidentAction.REOPEN, 1, None),
        (timedelta(hours=3), IncidentStatus.RESOLVED, IncidentAction.OPEN, None, 1),
        (timedelta(minutes=30), IncidentStatus.CLOSED, IncidentAction.OPEN, None, 1),
    ],
)
def test_reopen_within_window_else_new_linked(
    tmp_path: Path,
    resolved_ago: timedelta,
    status: IncidentStatus,
    action: IncidentAction,
    incident_id: int | None,
    linked: int | None,
) -> None:
    state = State(
        event=stored(status=EventStatus.RESOLVED, last_seen=NOW - resolved_ago),
        incident=incident(status=status, resolved_at=NOW - resolved_ago, firing_events=0),
    )
    decision = ruleset(tmp_path, "settings: {reopen_window: 1h}\n").evaluate(event(), state, NOW)
    assert (decision.outcome, decision.action) == (EventOutcome.NEW, action)
    assert (decision.incident_id, decision.linked_incident_id) == (incident_id, linked)


def test_due_resolutions() -> None:
    incidents = [
        incident(id=1, resolve_after=NOW - timedelta(seconds=1), firing_events=0),
        incident(id=2, resolve_after=NOW + timedelta(minutes=1), firing_events=0),
        incident(id=3, resolve_after=NOW - timedelta(minutes=1), firing_events=1),
        incident(id=4, resolve_after=None, firing_events=0),
        incident(id=5, status=IncidentStatus.RESOLVED, resolve_after=NOW, firing_events=0),
    ]
    assert due_resolutions(incidents, NOW) == [1]


def test_due_closures(tmp_path: Path) -> None:
    incidents = [
        incident(id=1, status=IncidentStatus.RESOLVED, resolved_at=NOW - timedelta(days=4)),
        incident(id=2, status=IncidentStatus.RESOLVED, resolved_at=NOW - timedelta(days=2)),
        incident(id=3, status=IncidentStatus.NEW),
        incident(id=4, status=IncidentStatus.CLOSED, resolved_at=NOW - timedelta(days=9)),
    ]
    assert due_closures(incidents, NOW, timedelta(days=3)) == [1]
    assert ruleset(tmp_path, "settings: {close_after: 1d}\n").due_closures(incidents, NOW) == [1, 2]
