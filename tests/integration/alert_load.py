"""A paced stream of generic alerts posted to several replicas, retried like a real sender.

Alert ``n`` belongs to fingerprint ``n % fingerprints`` and carries the delivery
id ``n``. It goes to replica ``n % len(urls)`` first; a post that gets no
answer (its replica was killed) or a 503 is sent again, with the same
delivery id, to the next replica after a short pause, until one answers 202.
The gateway must store each delivery id once and count it once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import aiohttp
import orjson

DELIVERY_HEADER = "X-Delivery-Id"
_RETRY_PAUSE = 0.2


def alert_body(number: int, fingerprints: int, groups: int) -> bytes:
    """The fingerprint comes from name, resource and labels; the summary varies."""
    index = number % fingerprints
    return orjson.dumps(
        {
            "name": f"check-{index}",
            "resource": f"host-{index % 50}",
            "severity": "high",
            "status": "firing",
            "summary": f"alert {number}",
            "labels": {"group": f"g{index % groups}"},
        }
    )


def fingerprint_of(body: bytes) -> str:
    """The alert's fingerprint index as the test knows it: its check name."""
    name: str = orjson.loads(body)["name"]
    return name


@dataclass
class AlertLoad:
    urls: Callable[[], Sequence[str]]  # the replicas' intake URLs, read at each attempt
    total: int
    fingerprints: int
    groups: int
    per_second: float
    clients: int = 24
    max_attempts: int = 200
    acked: dict[int, int] = field(default_factory=dict)  # delivery -> answering attempt
    outcomes: Counter[str] = field(default_factory=Counter)  # 202, 503, no_answer, ...
    started: float = 0.0
    finished: float = 0.0

    def body(self, number: int) -> bytes:
        return alert_body(number, self.fingerprints, self.groups)

    async def run(self) -> None:
        numbers = iter(range(self.total))
        timeout = aiohttp.ClientTimeout(total=10)
        self.started = time.monotonic()
        async with aiohttp.ClientSession(timeout=timeout) as http:
            await asyncio.gather(*(self._client(http, numbers) for _ in range(self.clients)))
        self.finished = time.monotonic()

    async def _client(self, http: aiohttp.ClientSession, numbers: Iterator[int]) -> None:
        for number in numbers:
            due = self.started + number / self.per_second
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._deliver(http, number)

    async def _deliver(self, http: aiohttp.ClientSession, number: int) -> None:
        body = self.body(number)
        headers = {"Content-Type": "application/json", DELIVERY_HEADER: str(number)}
        for attempt in range(self.max_attempts):
            urls = self.urls()
            url = urls[(number + attempt) % len(urls)]
            outcome = await self._post(http, url, body, headers)
            self.outcomes[outcome] += 1
            if outcome == "202":
                self.acked[number] = attempt
                return
            await asyncio.sleep(_RETRY_PAUSE)
        raise AssertionError(f"delivery {number} was never acknowledged: {self.outcomes}")

    @staticmethod
    async def _post(
        http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
    ) -> str:
        try:
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                return str(response.status)
        except (aiohttp.ClientError, ConnectionError, TimeoutError):
            return "no_answer"

    def status_line(self) -> str:
        seconds = (self.finished or time.monotonic()) - self.started
        return (
            f"{len(self.acked)}/{self.total} acknowledged in {seconds:.1f}s; {dict(self.outcomes)}"
        )
