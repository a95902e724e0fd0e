"""Feishu / Lark custom bot: text message; signed body when the bot has a secret.

Feishu's signature: HmacSHA256 keyed with ``"<timestamp s>\\n<secret>"`` over
an empty message, base64; sent as ``timestamp`` and ``sign`` in the body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, ClassVar

from sinks.chat import ChatSink
from sinks.delivery import Delivery


def feishu_sign(secret: str, timestamp: int) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FeishuSink(ChatSink):
    kind: ClassVar[str] = "feishu"
    RATE_LIMIT_CODES: ClassVar[frozenset[int]] = frozenset({9499, 11232})  # too many requests

    def _body(self, delivery: Delivery, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if self._secret is not None:
            stamp = int(self._clock())
            body["timestamp"] = str(stamp)
            body["sign"] = feishu_sign(self._secret, stamp)
        return body
