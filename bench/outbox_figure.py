"""Outbox delivery as a figure, with the pieces of ``bench.outbox_bench``: a webhook
sink whose receiver answers in 20 ms.

- throughput: a backlog of rows committed before the dispatcher starts,
  delivered per second;
- latency: at a steady rate, from the commit of an incident with its row to
  the arrival of its request at the receiver (p50, p99).

Run as a process: ``python -m bench.outbox_figure BACKLOG RATE SECONDS [DB_URL]``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.child import emit
from bench.common import Figure, figure
from bench.outbox_bench import Receiver, _commit_incidents
from gateway.forwarding.dispatcher import DispatchSettings, OutboxDispatcher, build_dispatcher
from gateway.logs import configure_logging
from gateway.metrics import Metrics
from storage.database import Database, DatabaseSettings
from storage.migrations import migrate
from tests.integration.forwarding import sink

ANSWER_MS = 20.0
IN_FLIGHT = 32
_WAIT_SECONDS = 300


async def _backlog_rate(
    db: Database, dispatcher: OutboxDispatcher, receiver: Receiver, rows: int
) -> float:
    keys = await _commit_incidents(db, range(1_000_000, 1_000_000 + rows))
    started = time.perf_counter()
    async with dispatcher.running():
        await receiver.wait_for(keys, _WAIT_SECONDS)
    return sum(key in receiver.arrived for key in keys) / (time.perf_counter() - started)


async def _steady_latencies(
    db: Database, dispatcher: OutboxDispatcher, receiver: Receiver, rate: float, seconds: float
) -> list[float]:
    committed: dict[str, float] = {}
    total = int(rate * seconds)
    started = time.monotonic()
    done = 0
    async with dispatcher.running():
        while done < total:
            due = min(total, int((time.monotonic() - started) * rate) + 1)
            if due > done:
                keys = await _commit_incidents(db, range(done, due))
                at = time.monotonic()
                committed.update((key, at) for key in keys)
                dispatcher.wake()
                done = due
            await asyncio.sleep(max(0.0, started + done / rate - time.monotonic()))
        await receiver.wait_for(list(committed), _WAIT_SECONDS)
    return [receiver.arrived[key] - at for key, at in committed.items() if key in receiver.arrived]


async def measure(rows: int, rate: float, seconds: float, url: str) -> Figure:
    db = Database(DatabaseSettings(url=url))
    await db.open()
    await migrate(db)
    receiver = Receiver(ANSWER_MS)
    runner = web.AppRunner(receiver.app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        dispatcher = build_dispatcher(
            [
                sink(
                    name="hook",
                    kind="webhook",
                    url=f"http://127.0.0.1:{port}/hook",
                    max_in_flight=IN_FLIGHT,
                )
            ],
            db,
            Metrics(),
            lambda: datetime.now(UTC),
            aiohttp.ClientSession,
            owner="bench",
            settings=DispatchSettings(poll_seconds=1.0),
        )
        per_second = await _backlog_rate(db, dispatcher, receiver, rows)
        latencies = await _steady_latencies(db, dispatcher, receiver, rate, seconds)
    finally:
        await runner.cleanup()
        await db.close()
    measured = figure("webhook sink (answers in 20 ms)", 1, 1.0, latencies, 0, 0)
    expected = int(rate * seconds)
    return Figure(
        measured.name,
        per_second,
        measured.p50_ms,
        measured.p99_ms,
        0.0,
        rows + expected,
        expected - len(latencies),
    )


def main() -> None:
    configure_logging("warning")
    rows, rate, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    with tempfile.TemporaryDirectory() as scratch:
        url = sys.argv[4] if len(sys.argv) > 4 else f"sqlite://{Path(scratch)}/outbox.sqlite3"
        emit(asyncio.run(measure(rows, rate, seconds, url)))


if __name__ == "__main__":
    main()
