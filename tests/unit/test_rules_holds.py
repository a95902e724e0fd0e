"""What an incident waits on is on its timeline (pending resolution, flapping hold); a
mail comment is no alert; follow-ups go to every sink of the incident."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.records import EventStatus, MailKind
from rules.decision import (
    EventOutcome,
    IncidentAction,
    State,
    StoredStatus,
    follow_up_routes,
)
from tests.unit.rules_support import NOW, event, incident, mail_event, ruleset, stored

HOLD = "settings: {resolve_hold_down: 5m, default_routes: [desk]}\n"


def test_a_recovery_that_starts_the_hold_down_says_when_it_resolves(tmp_path: Path) -> None:
    state = State(event=stored(), incident=incident(firing_events=1))
    decision = ruleset(tmp_path, HOLD).evaluate(event(status=EventStatus.RESOLVED), state, NOW)
    assert decision.resolve_after == NOW + timedelta(minutes=5)
    [note] = decision.notes
    assert (note.kind, note.text) == (
        "resolve_pending",
        "all alerts recovered; resolving at 2025-03-03T09:05:00Z unless one fires again",
    )


def test_an_alert_firing_again_calls_off_the_pending_resolution(tmp_path: Path) -> None:
    pending = incident(firing_events=0, resolve_after=NOW + timedelta(minutes=3))
    state = State(event=stored(status=EventStatus.RESOLVED), incident=pending)
    decision = ruleset(tmp_path, HOLD).evaluate(event(), state, NOW)
    assert decision.action is IncidentAction.UPDATE
    assert [note.kind for note in decision.notes] == ["resolve_cancelled"]


def test_a_flapping_hold_is_noted_when_it_starts_and_ends(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, "settings: {flapping: {transitions: 2, window: 30m, clear_at: 1}}\n")
    moments = tuple(NOW - timedelta(minutes=m) for m in (3, 2))
    state = State(event=stored(transitions=moments), incident=incident())
    held = rules.evaluate(event(status=EventStatus.RESOLVED), state, NOW)
    assert held.outcome is EventOutcome.FLAPPING
    assert [note.kind for note in held.notes] == ["flapping"]
    assert "more than 2 changes in 30m" in held.notes[0].text
    calm = State(event=stored(flapping=True), incident=incident(firing_events=2))
    ended = rules.evaluate(event(status=EventStatus.RESOLVED), calm, NOW)
    assert [note.kind for note in ended.notes] == ["flapping_ended"]


def test_a_mail_reply_is_stored_as_a_comment_and_goes_to_every_sink(tmp_path: Path) -> None:
    reply = mail_event(MailKind.REPLY, incident_keys=("INC-000001",))
    target = incident(routes=("chat", "jira"))
    decision = ruleset(tmp_path, HOLD).evaluate(reply, State(referenced=(target,)), NOW)
    assert (decision.outcome, decision.action) == (EventOutcome.COMMENT, IncidentAction.COMMENT)
    assert decision.event_status is StoredStatus.COMMENT
    assert decision.routes == ("chat", "jira", "desk")


def test_a_comment_stored_on_the_incident_does_not_hold_back_its_recovery(
    tmp_path: Path,
) -> None:
    # the recovering alert is the incident's only firing event
    state = State(event=stored(), incident=incident(firing_events=1))
    decision = ruleset(tmp_path, "").evaluate(event(status=EventStatus.RESOLVED), state, NOW)
    assert decision.action is IncidentAction.RESOLVE
    # a comment of the same fingerprint was never counted: nothing to take away
    state = State(event=stored(status=StoredStatus.COMMENT), incident=incident(firing_events=1))
    decision = ruleset(tmp_path, "").evaluate(event(status=EventStatus.RESOLVED), state, NOW)
    assert decision.action is IncidentAction.UPDATE


def test_follow_up_routes_keep_the_incident_sinks_first_each_once() -> None:
    assert follow_up_routes(("chat", "desk"), ("desk", "jira")) == ("chat", "desk", "jira")
    assert follow_up_routes((), ()) == ()
