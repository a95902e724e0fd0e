"""Load for database outage tests: webhook posts (aiohttp) and mails (smtplib), each
with a unique marker, their answers, and what /readyz and the API said meanwhile."""

from __future__ import annotations

import asyncio
import re
import smtplib
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

from tests.integration.mail_support import HELPDESK, message

DELIVERY_HEADER = "X-Delivery"
_MARKER = re.compile(rb"outage-(?:http|smtp)-\d+-\d+")


def markers_in(body: bytes) -> list[str]:
    return [found.decode() for found in _MARKER.findall(body)]


@dataclass
class Probe:
    """What one path answered over time: (monotonic time, status)."""

    path: str
    seen: list[tuple[float, int]] = field(default_factory=list)

    async def run(self, http: aiohttp.ClientSession, every: float) -> None:
        while True:
            try:
                async with http.get(self.path, timeout=aiohttp.ClientTimeout(total=10)) as answer:
                    await answer.read()
                    self.seen.append((time.monotonic(), answer.status))
            except (aiohttp.ClientError, TimeoutError):
                self.seen.append((time.monotonic(), 0))  # no answer at all
            await asyncio.sleep(every)

    def between(self, start: float, end: float) -> list[int]:
        return [status for at, status in self.seen if start <= at <= end]

    def first_after(self, start: float, status: int) -> float | None:
        return next((at for at, seen in self.seen if at >= start and seen == status), None)


@dataclass
class Load:
    base_url: str
    smtp_port: int
    acked: set[str] = field(default_factory=set)  # markers answered 202 / 250
    refused: list[str] = field(default_factory=list)  # markers answered 503 / 451
    answers: Counter[str] = field(default_factory=Counter)  # "http 202", "smtp 451", ...
    bad: list[str] = field(default_factory=list)  # anything a sender must never see
    longest: float = 0.0  # the longest a sender waited for an answer, in seconds
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def webhooks(self, http: aiohttp.ClientSession, worker: int) -> None:
        number = 0
        while not self.stop.is_set():
            number += 1
            accepted = await self.post(http, f"outage-http-{worker}-{number}")
            await asyncio.sleep(0.02 if accepted else 0.5)  # a sender backs off when refused

    async def post(self, http: aiohttp.ClientSession, marker: str) -> bool:
        body = {"name": marker, "resource": "outage", "severity": "warning"}
        started = time.monotonic()
        async with http.post(
            f"{self.base_url}/webhooks/generic",
            json=body,
            headers={DELIVERY_HEADER: marker},
            timeout=aiohttp.ClientTimeout(total=60),
        ) as answer:
            await answer.read()
            self.longest = max(self.longest, time.monotonic() - started)
            self.answers[f"http {answer.status}"] += 1
            if answer.status == 202:
                self.acked.add(marker)
                return True
            if answer.status == 503 and answer.headers.get("Retry-After", "").isdigit():
                self.refused.append(marker)
            else:
                self.bad.append(f"{marker}: {answer.status} {dict(answer.headers)}")
            return False

    def mails(self, worker: int) -> None:
        number = 0
        while not self.stop.is_set():
            number += 1
            accepted = self.send(f"outage-smtp-{worker}-{number}")
            time.sleep(0.02 if accepted else 0.5)

    def send(self, marker: str) -> bool:
        raw = message(marker, message_id=f"<{marker}@outage.test>")
        started = time.monotonic()
        try:
            with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=60) as client:
                try:
                    client.sendmail("alice@client.example", [HELPDESK], raw)
                finally:
                    self.longest = max(self.longest, time.monotonic() - started)
        except smtplib.SMTPResponseException as refused:
            self.answers[f"smtp {refused.smtp_code}"] += 1
            if refused.smtp_code == 451:
                self.refused.append(marker)
            else:
                self.bad.append(f"{marker}: {refused.smtp_code} {refused.smtp_error!r}")
            return False
        except smtplib.SMTPRecipientsRefused as refused:
            self.bad.append(f"{marker}: {refused.recipients}")
            return False
        self.answers["smtp 250"] += 1
        self.acked.add(marker)
        return True

    async def retry_refused(self, http: aiohttp.ClientSession) -> None:
        """As senders do after a temporary failure: each refused request once more."""
        for marker in self.refused:
            if marker.startswith("outage-http"):
                accepted = await self.post(http, marker)
            else:
                accepted = await asyncio.to_thread(self.send, marker)
            assert accepted, f"{marker} refused again after the database came back"
