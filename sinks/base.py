"""What HTTP sinks share: name, session, templates, timeout, and the template roles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

import aiohttp

from core.outbox import OutboxAction, TicketRef
from sinks.delivery import Delivered, Delivery, DeliveryFailed
from sinks.http import Answer, call
from sinks.templates import Templates

TICKET_TEMPLATES: Mapping[str, str] = {
    "summary": "ticket_summary.txt.j2",
    "description": "ticket_description.txt.j2",
    "comment": "ticket_comment.txt.j2",
}


class HttpSink:
    """Base of the HTTP sinks; a sink without tickets sends every action the same way."""

    kind: ClassVar[str] = ""
    tracks_tickets: ClassVar[bool] = False
    can_lookup: ClassVar[bool] = False
    answers_mail: ClassVar[bool] = False
    TEMPLATES: ClassVar[Mapping[str, str]] = TICKET_TEMPLATES

    def __init__(
        self, name: str, session: aiohttp.ClientSession, templates: Templates, timeout: float
    ) -> None:
        self._name = name
        self._session = session
        self._templates = templates
        self._timeout = timeout

    @property
    def name(self) -> str:
        return self._name

    async def _call(self, method: str, url: str, **options: Any) -> Answer:
        return await call(self._session, method, url, seconds=self._timeout, **options)

    async def create(self, delivery: Delivery) -> Delivered:
        return await self.apply(delivery, None)

    async def apply(self, delivery: Delivery, ticket: TicketRef | None) -> Delivered:
        raise NotImplementedError

    async def lookup(self, delivery: Delivery) -> TicketRef | None:
        return None

    async def acknowledge(self, delivery: Delivery) -> Delivered:
        raise DeliveryFailed(f"sink {self._name} cannot answer mail", retryable=False)


def lifecycle_target(
    delivery: Delivery,
    *,
    resolve: str | None,
    close: str | None,
    reopen: str | None,
    acknowledge: str | None,
) -> str | None:
    """The state (or transition) a ticket system should move to for this delivery."""
    action = delivery.action
    if action is OutboxAction.RESOLVE:
        return resolve
    if action is OutboxAction.CLOSE:
        return close
    if action is OutboxAction.REOPEN:
        return reopen
    status = delivery.changes.get("status")
    if status and status[1] == "acknowledged":
        return acknowledge
    return None


class StateNames(Protocol):
    """A ticket system's state values for each lifecycle step (ServiceNow, Zammad)."""

    @property
    def resolve_state(self) -> str: ...
    @property
    def close_state(self) -> str: ...
    @property
    def reopen_state(self) -> str: ...
    @property
    def acknowledge_state(self) -> str | None: ...


def target_state(delivery: Delivery, names: StateNames) -> str | None:
    return lifecycle_target(
        delivery,
        resolve=names.resolve_state,
        close=names.close_state,
        reopen=names.reopen_state,
        acknowledge=names.acknowledge_state,
    )
