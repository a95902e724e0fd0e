"""The database refuses connections for 20 s while webhooks and mail keep coming, on
both engines (PostgreSQL: ALLOW_CONNECTIONS false and every session terminated;
SQLite: another process holds the file's write lock).

Every request answered 202 / 250 is stored exactly once; the others were told
503 + Retry-After / 451, never a 500; /readyz says not ready while the database is
gone and ready again within 2 s; the API answers 503 (or, on SQLite, whose readers
a writer's lock does not stop, 200), never 500; the refused requests, sent again,
are accepted, and everything is processed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from storage.database import sqlite_path
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.mail_support import MAILBOXES, refusing_connections, smtp_port, smtp_section
from tests.integration.outage_load import DELIVERY_HEADER, Load, Probe, markers_in

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 20.0
READY_AGAIN_WITHIN = 2.0
SENDER_PATIENCE = 8.0
_HOLD_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""


@asynccontextmanager
async def _sqlite_locked(path: Path) -> AsyncIterator[None]:
    """Another process holds the database file's exclusive lock for the block."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _HOLD_LOCK,
        str(path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 10) == b"locked\n"
        yield
        holder.stdin.write(b"\n")
        await holder.stdin.drain()
        assert await asyncio.wait_for(holder.wait(), 10) == 0
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()


@asynccontextmanager
async def _outage(database_url: str) -> AsyncIterator[None]:
    if database_url.startswith("sqlite://"):
        async with _sqlite_locked(sqlite_path(database_url)):
            yield
    else:
        async with refusing_connections(database_url):
            yield


async def _stored_markers(daemon: RunningDaemon) -> Counter[str]:
    rows = await daemon.services.db.connection.execute_query_dict("SELECT body FROM intake_records")
    found: Counter[str] = Counter()
    for row in rows:
        found.update(set(markers_in(bytes(row["body"]))))
    return found


async def _pending(daemon: RunningDaemon) -> int:
    _, rows = await daemon.services.db.connection.execute_query(
        "SELECT COUNT(*) AS n FROM intake_records WHERE state = 'pending'"
    )
    return int(rows[0]["n"])


async def test_database_refusing_connections_under_load(
    write_config: ConfigWriter, database_url: str
) -> None:
    loaded = write_config(
        database_url,
        storage={"url": database_url, "connect_timeout_seconds": 2},
        smtp=smtp_section(),
        mailboxes=MAILBOXES,
        integrations=[
            {
                "name": "generic",
                "kind": "generic",
                "delivery_id_header": DELIVERY_HEADER,
                "dedup_window_seconds": 0,
            }
        ],
    )
    async with running_daemon(loaded) as daemon, aiohttp.ClientSession() as http:
        load = Load(daemon.base_url, smtp_port(daemon))
        ready = Probe(f"{daemon.base_url}/readyz")
        api = Probe(f"{daemon.base_url}/api/v1/incidents?limit=5")
        background = [
            asyncio.create_task(ready.run(http, 0.2)),
            asyncio.create_task(api.run(http, 0.5)),
        ]
        senders = [asyncio.create_task(load.webhooks(http, worker)) for worker in range(4)]
        senders += [asyncio.create_task(asyncio.to_thread(load.mails, w)) for w in range(2)]
        try:
            await asyncio.sleep(2)
            async with _outage(database_url):
                down = time.monotonic()
                await asyncio.sleep(OUTAGE_SECONDS)
            up = time.monotonic()
            await asyncio.sleep(4)
            load.stop.set()
            await asyncio.gather(*senders)
        finally:
            load.stop.set()
            for task in background:
                task.cancel()
        print(dict(load.answers), f"longest wait {load.longest:.1f} s")
        assert load.bad == []
        assert load.refused, "the outage refused nothing: it was not one"
        assert any(marker.startswith("outage-http") for marker in load.refused)
        assert any(marker.startswith("outage-smtp") for marker in load.refused)
        # told at once, not kept waiting while the database is away (senders time out:
        # Alertmanager after 10 s)
        assert load.longest < SENDER_PATIENCE
        # not ready while the database is gone (once noticed), ready soon after
        during = ready.between(down + 3, up - 0.5)
        assert during and 200 not in during, ready.seen
        back = ready.first_after(up, 200)
        assert back is not None and back - up <= READY_AGAIN_WITHIN, (back, up, ready.seen)
        assert {status for _, status in api.seen} <= {200, 503}, api.seen
        if not database_url.startswith("sqlite://"):
            assert 503 in api.between(down + 3, up - 0.5), api.seen
        # what was acknowledged is there once; what was refused, sent again, too
        stored = await _stored_markers(daemon)
        assert load.acked <= stored.keys()
        await load.retry_refused(http)
        stored = await _stored_markers(daemon)
        assert set(stored) == load.acked
        assert set(stored.values()) == {1}
        await eventually(lambda: _pending(daemon), lambda left: left == 0, within=30)
