"""Mail: replies comment on their incident, auto-replies and bounces are ignored."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from core.records import EventStatus, MailKind
from rules.decision import EventOutcome, IncidentAction, IncidentStatus, State, SubjectReply
from tests.unit.rules_support import NOW, incident, mail_event, ruleset, stored


@pytest.mark.parametrize("kind", [MailKind.AUTO_REPLY, MailKind.BOUNCE])
def test_automatic_mail_is_ignored_even_when_it_refers_to_an_incident(
    tmp_path: Path, kind: MailKind
) -> None:
    state = State(referenced=(incident(),))
    decision = ruleset(tmp_path).evaluate(mail_event(kind), state, NOW)
    assert (decision.outcome, decision.action, decision.routes) == (
        EventOutcome.IGNORED,
        IncidentAction.NONE,
        (),
    )


def test_a_bounce_is_linked_to_the_incident_of_the_mail_that_bounced(tmp_path: Path) -> None:
    bounce = mail_event(
        MailKind.BOUNCE, sender="mailer-daemon@mx.example", bounced_message_ids=("s1@gw",)
    )
    rules = ruleset(tmp_path)
    assert rules.lookup(bounce, NOW).message_ids == ("s1@gw",)
    decision = rules.evaluate(bounce, State(referenced=(incident(id=7),)), NOW)
    assert (decision.outcome, decision.action, decision.incident_id) == (
        EventOutcome.IGNORED,
        IncidentAction.NONE,
        7,
    )
    assert [note.kind for note in decision.notes] == ["bounce"]
    assert "s1@gw" in decision.notes[0].text
    assert decision.routes == ()
    unknown = rules.evaluate(bounce, State(), NOW)
    assert (unknown.incident_id, unknown.notes) == (None, ())


def test_an_auto_reply_is_not_linked_even_when_it_refers_to_an_incident(tmp_path: Path) -> None:
    decision = ruleset(tmp_path).evaluate(
        mail_event(MailKind.AUTO_REPLY), State(referenced=(incident(id=7),)), NOW
    )
    assert (decision.incident_id, decision.notes) == (None, ())


def test_lookup_passes_incident_keys_and_thread_ids(tmp_path: Path) -> None:
    reply = mail_event(
        MailKind.REPLY,
        incident_keys=("INC-000001",),
        in_reply_to=("<a@x>",),
        references=("<r1@x>", "<a@x>"),
    )
    lookup = ruleset(tmp_path).lookup(reply, NOW)
    assert lookup.incident_keys == ("INC-000001",)
    assert lookup.message_ids == ("<a@x>", "<r1@x>", "<a@x>")


SETTINGS = "settings: {{reply_to_closed: {closed}, reply_to_resolved: {resolved}}}\n"


@pytest.mark.parametrize(
    ("status", "closed", "resolved", "outcome", "action", "incident_id", "linked"),
    [
        (
            IncidentStatus.NEW,
            "new_incident",
            "comment",
            EventOutcome.COMMENT,
            IncidentAction.COMMENT,
            7,
            None,
        ),
        (
            IncidentStatus.ACKNOWLEDGED,
            "new_incident",
            "comment",
            EventOutcome.COMMENT,
            IncidentAction.COMMENT,
            7,
            None,
        ),
        (
            IncidentStatus.RESOLVED,
            "new_incident",
            "comment",
            EventOutcome.COMMENT,
            IncidentAction.COMMENT,
            7,
            None,
        ),
        (
            IncidentStatus.RESOLVED,
            "new_incident",
            "reopen",
            EventOutcome.COMMENT,
            IncidentAction.REOPEN,
            7,
            None,
        ),
        (
            IncidentStatus.CLOSED,
            "new_incident",
            "comment",
            EventOutcome.NEW,
            IncidentAction.OPEN,
            None,
            7,
        ),
        (
            IncidentStatus.CLOSED,
            "comment",
            "comment",
            EventOutcome.COMMENT,
            IncidentAction.COMMENT,
            7,
            None,
        ),
        (
            IncidentStatus.CLOSED,
            "ignore",
            "comment",
            EventOutcome.IGNORED,
            IncidentAction.NONE,
            7,
            None,
        ),
    ],
)
def test_reply_to_a_referenced_incident(
    tmp_path: Path,
    status: IncidentStatus,
    closed: str,
    resolved: str,
    outcome: EventOutcome,
    action: IncidentAction,
    incident_id: int | None,
    linked: int | None,
) -> None:
    loaded = ruleset(tmp_path, SETTINGS.format(closed=closed, resolved=resolved))
    state = State(referenced=(incident(id=7, status=status), incident(id=3)))
    decision = loaded.evaluate(mail_event(MailKind.REPLY), state, NOW)
    assert (decision.outcome, decision.action) == (outcome, action)
    assert (decision.incident_id, decision.linked_incident_id) == (incident_id, linked)


def test_new_mail_in_a_known_thread_is_a_comment(tmp_path: Path) -> None:
    state = State(referenced=(incident(id=7),))
    decision = ruleset(tmp_path).evaluate(mail_event(MailKind.NEW), state, NOW)
    assert (decision.outcome, decision.incident_id) == (EventOutcome.COMMENT, 7)


def test_reply_whose_incident_is_unknown_is_handled_as_new_mail(tmp_path: Path) -> None:
    decision = ruleset(tmp_path).evaluate(mail_event(MailKind.REPLY), State(), NOW)
    assert (decision.outcome, decision.action) == (EventOutcome.NEW, IncidentAction.OPEN)


def test_new_mail_opens_an_incident_titled_by_subject_with_requester(tmp_path: Path) -> None:
    decision = ruleset(tmp_path).evaluate(mail_event(subject="VPN broken"), State(), NOW)
    assert decision.action is IncidentAction.OPEN
    assert (decision.incident.title, decision.incident.requester) == (
        "VPN broken",
        "eve@example.org",
    )


@pytest.mark.parametrize(
    ("status", "outcome", "action"),
    [
        (EventStatus.FIRING, EventOutcome.DEDUPLICATED, IncidentAction.UPDATE),
        (EventStatus.RESOLVED, EventOutcome.RESOLVED, IncidentAction.RESOLVE),
    ],
)
def test_monitoring_mail_behaves_like_an_alert(
    tmp_path: Path, status: EventStatus, outcome: EventOutcome, action: IncidentAction
) -> None:
    monitoring = replace(mail_event(MailKind.MONITORING, subject="PROBLEM: web1"), status=status)
    state = State(event=stored(), incident=incident(), referenced=())
    decision = ruleset(tmp_path).evaluate(monitoring, state, NOW)
    assert (decision.outcome, decision.action) == (outcome, action)


@pytest.mark.parametrize(
    ("subject", "settings", "expected"),
    [
        ("Re: Printer jams", "", ("helpdesk", "eve@example.org", "Printer jams")),
        ("回复：Printer jams", "", ("helpdesk", "eve@example.org", "Printer jams")),
        ("Printer jams", "", None),  # not a reply
        ("Fwd: Printer jams", "", None),  # a forward is a new matter
        ("Re: Printer jams", "settings: {reply_by_subject: null}\n", None),
    ],
)
def test_a_reply_without_key_or_thread_is_looked_up_by_subject(
    tmp_path: Path, subject: str, settings: str, expected: tuple[str, str, str] | None
) -> None:
    rules = ruleset(tmp_path, settings)
    # the email parser names a mail's event by its subject without prefixes and keys
    mail = replace(mail_event(MailKind.NEW, subject=subject), name="Printer jams")
    lookup = rules.lookup(mail, NOW)
    if expected is None:
        assert lookup.reply_by_subject is None
    else:
        assert lookup.reply_by_subject == SubjectReply(*expected, NOW - timedelta(days=14))
