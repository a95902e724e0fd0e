"""Flap detection with damping."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from core.records import EventStatus
from rules.decision import EventOutcome, IncidentAction, IncidentStatus, State
from tests.unit.rules_support import NOW, event, incident, ruleset, stored

FLAPPING = "settings:\n  flapping: {transitions: 4, window: 30m, clear_at: 2}\n"


def changes(count: int, spacing: int = 5) -> tuple[datetime, ...]:
    return tuple(NOW - timedelta(minutes=spacing * (count - i)) for i in range(count))


@pytest.mark.parametrize(
    ("recent", "was_flapping", "new_status", "flapping"),
    [
        (3, False, EventStatus.FIRING, False),  # 3 + this one = 4, not more than 4
        (4, False, EventStatus.FIRING, True),  # 5 changes
        (4, False, EventStatus.RESOLVED, False),  # a repeat of the stored status is no change
        (2, True, EventStatus.FIRING, True),  # damping: stays flapping above clear_at
        (1, True, EventStatus.FIRING, False),  # calmed down
    ],
)
def test_flapping_threshold_and_damping(
    tmp_path: Path, recent: int, was_flapping: bool, new_status: EventStatus, flapping: bool
) -> None:
    state = State(
        event=stored(
            status=EventStatus.RESOLVED, transitions=changes(recent), flapping=was_flapping
        ),
        incident=incident(),
    )
    decision = ruleset(tmp_path, FLAPPING).evaluate(event(status=new_status), state, NOW)
    assert decision.flapping is flapping
    assert (decision.outcome is EventOutcome.FLAPPING) is flapping


def test_old_transitions_do_not_count(tmp_path: Path) -> None:
    state = State(event=stored(status=EventStatus.RESOLVED, transitions=changes(10, spacing=60)))
    assert not ruleset(tmp_path, FLAPPING).evaluate(event(), state, NOW).flapping


@pytest.mark.parametrize(
    ("status", "action"),
    [(IncidentStatus.NEW, IncidentAction.UPDATE), (IncidentStatus.RESOLVED, IncidentAction.NONE)],
)
def test_flapping_never_opens_or_resolves(
    tmp_path: Path, status: IncidentStatus, action: IncidentAction
) -> None:
    state = State(
        event=stored(status=EventStatus.FIRING, transitions=changes(6)),
        incident=incident(status=status, resolved_at=NOW if not status.is_open else None),
    )
    decision = ruleset(tmp_path, FLAPPING).evaluate(event(status=EventStatus.RESOLVED), state, NOW)
    assert (decision.outcome, decision.action) == (EventOutcome.FLAPPING, action)


def test_flapping_per_rule(tmp_path: Path) -> None:
    loaded = ruleset(
        tmp_path,
        "rules:\n  - {name: r, description: d, flapping: {transitions: 2, window: 10m}}\n",
    )
    state = State(event=stored(status=EventStatus.RESOLVED, transitions=changes(2, spacing=2)))
    assert loaded.evaluate(event(), state, NOW).flapping
    assert not ruleset(tmp_path / "plain").evaluate(event(), state, NOW).flapping
