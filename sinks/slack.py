"""Slack incoming webhook: ``{"text": ...}`` (mrkdwn)."""

from __future__ import annotations

from typing import Any, ClassVar

import aiohttp

from gateway.sinkconfig import SlackSinkConfig
from sinks.chat import ChatSink
from sinks.delivery import Delivery
from sinks.templates import Templates


class SlackSink(ChatSink):
    kind: ClassVar[str] = "slack"

    def __init__(
        self, config: SlackSinkConfig, session: aiohttp.ClientSession, templates: Templates
    ) -> None:
        super().__init__(config.name, config.url, session, templates, config.timeout_seconds)

    def _body(self, delivery: Delivery, text: str) -> dict[str, Any]:
        return {"text": text.replace("**", "*")}
