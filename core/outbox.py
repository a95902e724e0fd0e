"""The outbox vocabulary: what storage writes for the forwarding to do, and the
outside system's ticket it remembers. Shared by storage, sinks and the dispatcher."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OutboxAction(StrEnum):
    """The ``outbox.action`` vocabulary storage writes and sinks act on."""

    CREATE = "create"  # a new incident: open a ticket
    UPDATE = "update"  # priority or status changed
    COMMENT = "comment"  # new occurrences, mail replies (throttled, coalesced)
    RESOLVE = "resolve"  # recovered or resolved by a person
    REOPEN = "reopen"  # resolved -> new again
    CLOSE = "close"  # closed for good
    ESCALATE = "escalate"  # SLA near-breach or breach: a notification
    ACKNOWLEDGE = "acknowledge"  # answer to the requester whose mail opened it (email sinks)
    NOTIFY = "notify"  # the requester told of a status change (email sinks)
    SURVEY = "survey"  # the requester asked for a rating on resolution (email sinks)

    @property
    def to_requester(self) -> bool:
        """A mail of its own to the requester, never a ticket's."""
        return self in (OutboxAction.ACKNOWLEDGE, OutboxAction.NOTIFY, OutboxAction.SURVEY)

    @property
    def coalescible(self) -> bool:
        """Several pending rows of these merge into one delivery, never dropped."""
        return self in (OutboxAction.UPDATE, OutboxAction.COMMENT)


@dataclass(frozen=True, slots=True)
class TicketRef:
    """The outside system's ticket for one incident, as stored in ``external_refs``."""

    ticket_id: str
    url: str = ""
