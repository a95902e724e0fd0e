"""WeCom (企业微信) group robot: markdown message, at most 4096 bytes."""

from __future__ import annotations

from typing import Any, ClassVar

import aiohttp

from gateway.sinkconfig import WeComSinkConfig
from sinks.chat import ChatSink
from sinks.delivery import Delivery
from sinks.templates import Templates

_MAX_BYTES = 4096


class WeComSink(ChatSink):
    kind: ClassVar[str] = "wecom"
    RATE_LIMIT_CODES: ClassVar[frozenset[int]] = frozenset({45009})  # api freq out of limit

    def __init__(
        self, config: WeComSinkConfig, session: aiohttp.ClientSession, templates: Templates
    ) -> None:
        super().__init__(config.name, config.url, session, templates, config.timeout_seconds)

    def _body(self, delivery: Delivery, text: str) -> dict[str, Any]:
        content = text.encode()[:_MAX_BYTES].decode(errors="ignore")
        return {"msgtype": "markdown", "markdown": {"content": content}}
