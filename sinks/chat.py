"""What chat robots share: one message per delivery from the ``message`` template.

Chat tools keep no ticket, so every action is a message and a retry may
repeat one (at-least-once). DingTalk, WeCom and Feishu answer HTTP 200 with
an error code in the body; ``_check`` turns those into failures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import aiohttp

from core.outbox import TicketRef
from sinks.base import HttpSink
from sinks.config import ChatSinkConfig, SignedChatSinkConfig
from sinks.delivery import Delivered, Delivery, DeliveryFailed
from sinks.http import Answer
from sinks.templates import Templates


class ChatSink(HttpSink):
    TEMPLATES: ClassVar[Mapping[str, str]] = {"message": "chat_message.md.j2"}
    # body error codes that mean "too fast, try later"
    RATE_LIMIT_CODES: ClassVar[frozenset[int]] = frozenset()

    def __init__(
        self,
        config: ChatSinkConfig,
        session: aiohttp.ClientSession,
        templates: Templates,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config.name, session, templates, config.timeout_seconds)
        self._url = config.url.resolve().get_secret_value()
        secret = config.secret if isinstance(config, SignedChatSinkConfig) else None
        self._secret = secret.resolve().get_secret_value() if secret else None
        self._clock = clock

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
