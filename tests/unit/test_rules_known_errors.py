"""Known errors noted on incidents; recurring incidents flagged as problem candidates."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from core.records import Event
from rules.decision import IncidentAction, State, TimelineNote
from tests.unit.rules_support import NOW, event, incident, ruleset, stored

KNOWN = """
known_errors:
  - id: KE-1
    title: Spooler hangs
    match: {resource: {regex: "printer.*"}}
    workaround: Restart the spooler.
    problem: PRB-7
  - id: KE-2
    when: 'labels.code == "E42"'
    workaround: Clear the cache.
"""


@pytest.mark.parametrize(
    ("alert", "ids"),
    [
        (event(resource="printer-1"), ["KE-1"]),
        (event(resource="printer-1", labels={"code": "E42"}), ["KE-1", "KE-2"]),
        (event(resource="web1"), []),
    ],
)
def test_matching_known_errors_become_notes(tmp_path: Path, alert: Event, ids: list[str]) -> None:
    decision = ruleset(tmp_path, KNOWN).evaluate(alert, State(), NOW)
    assert [note.data["known_error"] for note in decision.notes] == ids


def test_note_content(tmp_path: Path) -> None:
    (note,) = ruleset(tmp_path, KNOWN).evaluate(event(resource="printer-1"), State(), NOW).notes
    assert note == TimelineNote(
        "known_error",
        "Restart the spooler.",
        {"known_error": "KE-1", "problem": "PRB-7", "title": "Spooler hangs"},
    )


def test_no_notes_on_repeats(tmp_path: Path) -> None:
    state = State(event=stored(), incident=incident())
    decision = ruleset(tmp_path, KNOWN).evaluate(event(resource="printer-1"), state, NOW)
    assert decision.action is IncidentAction.UPDATE
    assert decision.notes == ()


def test_known_error_without_matcher_is_a_load_error(tmp_path: Path) -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match='needs "match" or "when"'):
        ruleset(tmp_path, "known_errors:\n  - {id: KE-9, workaround: w}\n")


PROBLEMS = "settings:\n  problem_candidate: {incidents: 3, window: 7d}\n"


def test_lookup_asks_for_recent_incidents(tmp_path: Path) -> None:
    lookup = ruleset(tmp_path, PROBLEMS).lookup(event(), NOW)
    assert lookup.recent_incidents_since == NOW - timedelta(days=7)
    assert lookup.ci == "web1:9100"
    assert ruleset(tmp_path / "off").lookup(event(), NOW).recent_incidents_since is None


@pytest.mark.parametrize(
    ("recent", "candidate"),
    [((), False), ((4,), False), ((5, 4), True), ((6, 5, 4), True)],
)
def test_problem_candidate(tmp_path: Path, recent: tuple[int, ...], candidate: bool) -> None:
    decision = ruleset(tmp_path, PROBLEMS).evaluate(event(), State(recent_incidents=recent), NOW)
    assert decision.problem_candidate is candidate
    assert decision.related_incident_ids == (recent if candidate else ())
