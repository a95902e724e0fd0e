"""A generic webhook: the ``body`` template rendered to JSON, optionally HMAC-signed.

The signature is HMAC-SHA256 over ``<timestamp>.<body>`` in ``X-Signature``
as ``sha256=<hex>`` with the Unix time in ``X-Timestamp`` (the same scheme the
gateway checks on its own webhooks). ``Idempotency-Key`` lets a receiver
drop a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import ClassVar

import aiohttp
import orjson

from core.outbox import TicketRef
from sinks.base import HttpSink
from sinks.config import WebhookSinkConfig
from sinks.delivery import Delivered, Delivery
from sinks.templates import Templates


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return (
        "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )


class WebhookSink(HttpSink):
    kind: ClassVar[str] = "webhook"
    TEMPLATES: ClassVar[Mapping[str, str]] = {"body": "webhook_body.json.j2"}

    def __init__(
        self,
        config: WebhookSinkConfig,
        session: aiohttp.ClientSession,
        templates: Templates,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config.name, session, templates, config.timeout_seconds)
        self._config = config
        self._secret = (
            config.secret.resolve().get_secret_value().encode() if config.secret else None
        )
        self._clock = clock

    async def apply(self, delivery: Delivery, ticket: TicketRef | None) -> Delivered:
        body = orjson.dumps(self._templates.render_json("body", delivery.context()))
        headers = {
            **self._config.headers,
            "Content-Type": "application/json",
            "Idempotency-Key": delivery.idempotency_key,
        }
        if self._secret is not None:
            stamp = str(int(self._clock()))
            headers[self._config.timestamp_header] = stamp
            headers[self._config.signature_header] = signature(self._secret, stamp, body)
        answer = await self._call(self._config.method, self._config.url, data=body, headers=headers)
        return Delivered(response=f"HTTP {answer.status}: {answer.excerpt[:200]}")
