"""Slack incoming webhook: ``{"text": ...}`` (mrkdwn)."""

from __future__ import annotations

from typing import Any, ClassVar

from sinks.chat import ChatSink
from sinks.delivery import Delivery


class SlackSink(ChatSink):
    kind: ClassVar[str] = "slack"

    def _body(self, delivery: Delivery, text: str) -> dict[str, Any]:
        return {"text": text.replace("**", "*")}
