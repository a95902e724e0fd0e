"""What the dispatcher hands a sink, and what a sink answers. Pure data, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from core.errors import SinkError
from core.outbox import OutboxAction, TicketRef


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery: a row, or a head row with the rows coalesced onto it."""

    action: OutboxAction
    incident: Mapping[str, Any]  # the incident as the API shows it, read at delivery time
    idempotency_key: str
    notes: tuple[str, ...] = ()  # comment texts of every merged row, oldest first
    occurrences: int = 0  # new occurrences summed over merged rows
    changes: Mapping[str, Any] = field(default_factory=dict)  # field -> [old, new], merged
    escalation: Mapping[str, Any] = field(default_factory=dict)
    merged: int = 1  # rows this delivery stands for
    # acknowledge: to, in_reply_to, references, subject of the requester's mail
    answer: Mapping[str, Any] = field(default_factory=dict)
    # mails to the requester: the signed link to the incident's status page ("" for none)
    portal_url: str = ""

    @property
    def key(self) -> str:
        """The incident key (INC-000123): the gateway's correlation value outside."""
        return str(self.incident.get("key") or "")

    def context(self) -> dict[str, Any]:
        """What templates see."""
        return {
            "action": self.action.value,
            "incident": dict(self.incident),
            "notes": list(self.notes),
            "occurrences": self.occurrences,
            "changes": dict(self.changes),
            "escalation": dict(self.escalation),
            "merged": self.merged,
            "answer": dict(self.answer),
            "portal_url": self.portal_url,
        }


@dataclass(frozen=True, slots=True)
class Delivered:
    """A sink's answer to a successful delivery."""

    ticket: TicketRef | None = None  # set by create (and by sinks that return an id)
    response: str = ""  # a short excerpt of the answer, kept on the row
    message_ids: tuple[str, ...] = ()  # mail sent: recorded so replies thread back


class DeliveryFailed(SinkError):
    """A delivery did not succeed.

    ``uncertain``: the request may have reached the system (timeout or reset
    after sending), so a retry of a create must look the ticket up first.
    ``response`` keeps the system's answer for the dead-letter list.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
        response: str = "",
        uncertain: bool = False,
    ) -> None:
        super().__init__(message, retryable=retryable, retry_after=retry_after)
        self.status = status
        self.response = response
        self.uncertain = uncertain


class Sink(Protocol):
    """A forwarding target. ``tracks_tickets``: it keeps one ticket per incident;
    ``can_lookup``: it finds a ticket by the gateway's correlation field;
    ``answers_mail``: it can answer the requester whose mail opened an incident."""

    kind: ClassVar[str]
    tracks_tickets: ClassVar[bool]
    can_lookup: ClassVar[bool]
    answers_mail: ClassVar[bool]

    @property
    def name(self) -> str: ...

    async def create(self, delivery: Delivery) -> Delivered:
        """Open the ticket (or send the first message) for ``delivery.incident``."""
        ...

    async def apply(self, delivery: Delivery, ticket: TicketRef | None) -> Delivered:
        """Any action other than the first create, on ``ticket`` when the sink tracks one."""
        ...

    async def lookup(self, delivery: Delivery) -> TicketRef | None:
        """Find the ticket by the gateway's correlation field; None if there is none."""
        ...

    async def acknowledge(self, delivery: Delivery) -> Delivered:
        """Answer the requester (``delivery.answer``); only where ``answers_mail``."""
        ...
