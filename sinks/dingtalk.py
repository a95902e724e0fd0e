"""DingTalk custom robot: markdown message; signed URL when the robot has a secret.

DingTalk's signature: HmacSHA256 with the secret as key over
``"<timestamp ms>\\n<secret>"``, base64, then URL-encoded, added to the
webhook URL as ``&timestamp=...&sign=...``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, ClassVar
from urllib.parse import quote_plus

from sinks.chat import ChatSink, headline
from sinks.delivery import Delivery


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    text = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), text, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


class DingTalkSink(ChatSink):
    kind: ClassVar[str] = "dingtalk"
    RATE_LIMIT_CODES: ClassVar[frozenset[int]] = frozenset({130101})  # too many per minute

    def _target(self) -> str:
        if self._secret is None:
            return self._url
        stamp = int(self._clock() * 1000)
        joiner = "&" if "?" in self._url else "?"
        return f"{self._url}{joiner}timestamp={stamp}&sign={dingtalk_sign(self._secret, stamp)}"

    def _body(self, delivery: Delivery, text: str) -> dict[str, Any]:
        return {"msgtype": "markdown", "markdown": {"title": headline(delivery), "text": text}}
