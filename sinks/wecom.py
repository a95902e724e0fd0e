"""WeCom (企业微信) group robot: markdown message, at most 4096 bytes."""

from __future__ import annotations

from typing import Any, ClassVar

from sinks.chat import ChatSink
from sinks.delivery import Delivery

_MAX_BYTES = 4096


class WeComSink(ChatSink):
    kind: ClassVar[str] = "wecom"
    RATE_LIMIT_CODES: ClassVar[frozenset[int]] = frozenset({45009})  # api freq out of limit

    def _body(self, delivery: Delivery, text: str) -> dict[str, Any]:
        content = text.encode()[:_MAX_BYTES].decode(errors="ignore")
        return {"msgtype": "markdown", "markdown": {"content": content}}
