"""One HTTP call to a sink's API, with the answer sorted into success, retry or give up.

5xx, 408, 409, 429 and network faults are retryable (Retry-After honoured);
any other 4xx is final and its body is kept for the dead-letter list. A
timeout or a reset after the request went out is *uncertain*: the system may
have acted on it, so a create is looked up before it is sent again.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson

from sinks.delivery import DeliveryFailed

_KEPT = 2000  # characters of an answer kept on the outbox row
_RETRYABLE_4XX = (408, 409, 429)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    text: str

    def json(self) -> Any:
        try:
            return orjson.loads(self.text) if self.text else None
        except orjson.JSONDecodeError as exc:
            raise DeliveryFailed(
                f"HTTP {self.status}: the answer is not JSON",
                retryable=False,
                status=self.status,
                response=self.text[:_KEPT],
            ) from exc

    @property
    def excerpt(self) -> str:
        return self.text[:_KEPT]


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def failure_for(status: int, text: str, headers: Mapping[str, str]) -> DeliveryFailed:
    retryable = status >= 500 or status in _RETRYABLE_4XX
    return DeliveryFailed(
        f"HTTP {status}" + ("" if retryable else " (not retried)"),
        retryable=retryable,
        retry_after=retry_after(headers.get("Retry-After")) if retryable else None,
        status=status,
        response=text[:_KEPT],
    )


async def call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    seconds: float,
    json: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> Answer:
    """Send one request; return a 2xx answer or raise DeliveryFailed."""
    body = data if json is None else orjson.dumps(json)
    sent_headers = dict(headers or {})
    if json is not None:
        sent_headers.setdefault("Content-Type", "application/json")
    try:
        async with session.request(
            method,
            url,
            data=body,
            headers=sent_headers,
            params=params,
            timeout=aiohttp.ClientTimeout(total=seconds),
            allow_redirects=False,
        ) as response:
            text = await response.text(errors="replace")
            if 200 <= response.status < 300:
                return Answer(response.status, text)
            raise failure_for(response.status, text, response.headers)
    except aiohttp.ClientConnectorError as exc:
        # refused or unreachable: nothing was sent
        raise DeliveryFailed(f"cannot connect: {exc}", retryable=True) from exc
    except TimeoutError as exc:
        raise DeliveryFailed(
            f"no answer within {seconds}s", retryable=True, uncertain=True
        ) from exc
    except aiohttp.ClientError as exc:
        raise DeliveryFailed(
            f"connection failed: {type(exc).__name__}: {exc}", retryable=True, uncertain=True
        ) from exc


def basic_auth(user: str, password: str) -> str:
    """An ``Authorization`` header value for HTTP basic auth."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
