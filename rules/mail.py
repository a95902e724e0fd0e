"""Mail stages: auto-replies and bounces are ignored; replies comment on their incident."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.records import Event, MailKind
from rules.decision import EventOutcome, IncidentAction, IncidentStatus, TimelineNote
from rules.verdict import Evaluation, Verdict

_NEVER_AN_INCIDENT = (MailKind.AUTO_REPLY, MailKind.BOUNCE)
_MAY_REPLY = (MailKind.NEW, MailKind.REPLY)


class ReplyToClosed(StrEnum):
    NEW_INCIDENT = "new_incident"  # open a new incident linked to the closed one
    COMMENT = "comment"
    IGNORE = "ignore"


class ReplyToResolved(StrEnum):
    COMMENT = "comment"
    REOPEN = "reopen"


@dataclass(frozen=True, slots=True)
class IgnoreAutomaticMail:
    """Auto-replies and bounces never open or change an incident; a bounce of a mail
    the gateway sent (or received) about an incident is linked to that incident."""

    def apply(self, evaluation: Evaluation) -> Verdict | None:
        mail = evaluation.draft.event.mail
        if mail is None or mail.kind not in _NEVER_AN_INCIDENT:
            return None
        referenced = evaluation.state.referenced
        if mail.kind is MailKind.BOUNCE and referenced:
            return Verdict(EventOutcome.IGNORED, IncidentAction.NONE, referenced[0].id)
        return Verdict(EventOutcome.IGNORED, IncidentAction.NONE)


def bounce_notes(event: Event) -> tuple[TimelineNote, ...]:
    """The timeline entry for a bounce linked to its incident."""
    mail = event.mail
    if mail is None or mail.kind is not MailKind.BOUNCE:
        return ()
    bounced = ", ".join(mail.bounced_message_ids[:3]) or "a message"
    return (
        TimelineNote(
            "bounce",
            f"delivery of {bounced} failed; report from {mail.sender or 'the mail system'}: "
            f"{mail.subject}"[:500],
        ),
    )


@dataclass(frozen=True, slots=True)
class MailReplyStage:
    """A mail that refers to a stored incident (key in subject, or thread) comments on it.

    A REPLY whose incident storage did not find falls through and is handled
    like a new mail.
    """

    to_resolved: ReplyToResolved
    to_closed: ReplyToClosed

    def apply(self, evaluation: Evaluation) -> Verdict | None:
        mail = evaluation.draft.event.mail
        if mail is None or mail.kind not in _MAY_REPLY or not evaluation.state.referenced:
            return None
        target = evaluation.state.referenced[0]
        if target.status is IncidentStatus.CLOSED:
            return self._closed(target.id)
        if target.status is IncidentStatus.RESOLVED and self.to_resolved is ReplyToResolved.REOPEN:
            return Verdict(EventOutcome.COMMENT, IncidentAction.REOPEN, target.id)
        return Verdict(EventOutcome.COMMENT, IncidentAction.COMMENT, target.id)

    def _closed(self, incident_id: int) -> Verdict:
        if self.to_closed is ReplyToClosed.COMMENT:
            return Verdict(EventOutcome.COMMENT, IncidentAction.COMMENT, incident_id)
        if self.to_closed is ReplyToClosed.IGNORE:
            return Verdict(EventOutcome.IGNORED, IncidentAction.NONE, incident_id)
        return Verdict(EventOutcome.NEW, IncidentAction.OPEN, linked_incident_id=incident_id)
