"""What chat robots share: one message per delivery from the ``message`` template.

Chat tools keep no ticket, so every action is a message and a retry may
repeat one (at-least-once). DingTalk, WeCom and Feishu answer HTTP 200 with
an error code in the body; ``_check`` turns those into failures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import aiohttp

from gateway.config import SecretRef
from sinks.base import HttpSink
from sinks.delivery import Delivered, Delivery, DeliveryFailed, TicketRef
from sinks.http import Answer
from sinks.templates import Templates


class ChatSink(HttpSink):
    TEMPLATES: ClassVar[Mapping[str, str]] = {"message": "chat_message.md.j2"}
    # body error codes that mean "too fast, try later"
    RATE_LIMIT_CODES: ClassVar[frozenset[int]] = frozenset()

    def __init__(
        self,
        name: str,
        url: SecretRef,
        session: aiohttp.ClientSession,
        templates: Templates,
        timeout: float,
    ) -> None:
        super().__init__(name, session, templates, timeout)
        self._url = url.resolve().get_secret_value()

    def _body(self, delivery: Delivery, text: str) -> dict[str, Any]:
        raise NotImplementedError

    def _target(self) -> str:
        return self._url

    async def apply(self, delivery: Delivery, ticket: TicketRef | None) -> Delivered:
        text = self._templates.render("message", delivery.context())
        answer = await self._call("POST", self._target(), json=self._body(delivery, text))
        self._check(answer)
        return Delivered(response=answer.excerpt[:200])

    def _check(self, answer: Answer) -> None:
        """Robots that report errors inside a 200 answer."""
        found = answer.json() if answer.text.lstrip().startswith("{") else None
        if not isinstance(found, dict):
            return
        code = found.get("errcode", found.get("code", found.get("StatusCode", 0)))
        if not code:
            return
        raise DeliveryFailed(
            f"robot error {code}",
            retryable=int(code) in self.RATE_LIMIT_CODES,
            retry_after=60.0 if int(code) in self.RATE_LIMIT_CODES else None,
            status=answer.status,
            response=answer.excerpt,
        )


def headline(delivery: Delivery) -> str:
    """A one-line title for cards and markdown messages."""
    incident = delivery.incident
    line = f"[{incident['key']}] {incident['priority']} {incident['title']}"
    return "".join(" " if ord(char) < 32 else char for char in line)[:200]
