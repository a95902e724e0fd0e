"""Microsoft Teams incoming (or Workflows) webhook: the message as an Adaptive Card."""

from __future__ import annotations

from typing import Any, ClassVar

from sinks.chat import ChatSink, headline
from sinks.delivery import Delivery


class TeamsSink(ChatSink):
    kind: ClassVar[str] = "teams"

    def _body(self, delivery: Delivery, text: str) -> dict[str, Any]:
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {
                    "type": "TextBlock",
                    "text": headline(delivery),
                    "weight": "Bolder",
                    "size": "Medium",
                    "wrap": True,
                },
                {"type": "TextBlock", "text": text, "wrap": True},
            ],
        }
        return {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
            ],
        }
