"""PostgreSQL ending the daemon's sessions under load: never a 500, never a dead
session handed to the next request, the API answers 503 with Retry-After."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import asyncpg
import pytest

from tests.conftest import PG_ADMIN_URL, ConfigWriter
from tests.integration.daemon import RunningDaemon, running_daemon

ALERT = {"name": "disk full", "resource": "db1", "severity": "critical", "summary": "/ at 99%"}
API_PATHS = ("/api/v1/incidents", "/api/v1/events", "/api/v1/silences", "/readyz")


async def _end_sessions(database: str, until: float) -> int:
    """Terminate every session of ``database`` twice a second; how many were ended."""
    admin = await asyncpg.connect(PG_ADMIN_URL)
    ended = 0
    try:
        while time.monotonic() < until:
            await asyncio.sleep(0.5)
            ended += len(
                await admin.fetch(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid()",
                    database,
                )
            )
    finally:
        await admin.close()
    return ended


async def test_ended_sessions_never_answer_500_nor_reach_the_next_request(
    write_config: ConfigWriter, postgres_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    loaded = write_config(postgres_url, storage={"url": postgres_url, "connect_timeout_seconds": 1})
    answers: Counter[tuple[str, int]] = Counter()
    stale: list[str] = []

    async with running_daemon(loaded) as daemon:
        until = time.monotonic() + 6

        async def post(sender: int) -> None:
            sent = 0
            while time.monotonic() < until:
                sent += 1
                body = {**ALERT, "name": f"alert {sender}-{sent}"}
                async with daemon.http.post("/webhooks/generic", json=body) as response:
                    answers[("post", response.status)] += 1

        async def read(daemon: RunningDaemon, path: str) -> None:
            while time.monotonic() < until:
                async with daemon.http.get(path) as response:
                    text = await response.text()
                    answers[(path, response.status)] += 1
                    if response.status == 503 and path != "/readyz":
                        assert response.headers.get("Retry-After")
                        assert response.content_type == "application/json"
                    if "cannot switch to state" in text:
                        stale.append(text)

        *_, ended = await asyncio.gather(
            *(post(sender) for sender in range(8)),
            *(read(daemon, path) for path in API_PATHS),
            _end_sessions(database, until),
        )
    out, err = capfd.readouterr()
    assert isinstance(ended, int) and ended >= 10, ended
    assert not [key for key in answers if key[1] >= 500 and key[1] != 503], answers
    assert answers[("post", 202)] > 100, answers
    # a request that took a session the server had ended (the pool handed it out again)
    assert stale == [], stale[:3]
    # two tasks on one connection at once
    assert "another operation is in progress" not in out + err
