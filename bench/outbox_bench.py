"""Outbox dispatch: deliveries per second to a local webhook receiver, and end-to-end
latency from the commit of an incident (with its outbox row) to the ticket's arrival.

Usage: python -m bench.outbox_bench [--rate 200] [--seconds 10] [--answer-ms 20]
       [--backlog 5000] [--db URL]

Target: p99 under 250 ms at 200 incidents/s with the sink answering in 20 ms.
The producer commits each incident and its row in one transaction, then calls
``dispatcher.wake()`` as the pipeline does after its commit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web

from core.outbox import OutboxAction
from gateway.forwarding.dispatcher import DispatchSettings, OutboxDispatcher, build_dispatcher
from gateway.logs import configure_logging
from gateway.metrics import Metrics
from sinks.config import SinkConfig
from storage import models
from storage.database import Database, DatabaseSettings
from storage.incident_state import incident_key
from storage.migrations import migrate
from storage.outbox import enqueue
from tests.integration.forwarding import sink


class Receiver:
    """Answers after ``answer_ms``; notes when each row's request arrived."""

    def __init__(self, answer_ms: float) -> None:
        self.answer_seconds = answer_ms / 1000
        self.arrived: dict[str, float] = {}
        self._waiting: set[str] = set()
        self._all_arrived = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/hook", self.take)

    async def take(self, request: web.Request) -> web.Response:
        await request.read()
        key = request.headers["Idempotency-Key"]
        self.arrived.setdefault(key, time.monotonic())
        self._waiting.discard(key)
        if not self._waiting:
            self._all_arrived.set()
        await asyncio.sleep(self.answer_seconds)
        return web.json_response({"ok": True})

    async def wait_for(self, keys: list[str], limit: float) -> None:
        self._waiting = {key for key in keys if key not in self.arrived}
        self._all_arrived.clear()
        if self._waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_arrived.wait(), limit)


async def _commit_incidents(db: Database, numbers: range) -> list[str]:
    """Incidents and their outbox rows in one transaction, as the pipeline commits a batch."""
    now = datetime.now(UTC)
    keys = []
    async with db.transaction() as connection:
        for number in numbers:
            row = await models.Incident.create(
                using_db=connection,
                title=f"bench incident {number}",
                correlation_key=f"bench-{number}",
                open_key=f"bench-{number}",
                created_at=now,
                updated_at=now,
            )
            row.key = incident_key(row.id)
            await row.save(using_db=connection, update_fields=["key"])
            key = f"{row.id}:hook:create"
            await enqueue(
                connection,
                incident_id=row.id,
                sink="hook",
                action=OutboxAction.CREATE,
                idempotency_key=key,
                payload={},
                now=now,
            )
            keys.append(key)
    return keys


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


async def steady(
    db: Database, dispatcher: OutboxDispatcher, receiver: Receiver, rate: float, seconds: float
) -> None:
    committed: dict[str, float] = {}
    total = int(rate * seconds)
    started = time.monotonic()
    done = 0
    while done < total:
        # open-loop arrivals: everything due by now goes in the next commit
        due = min(total, int((time.monotonic() - started) * rate) + 1)
        if due > done:
            keys = await _commit_incidents(db, range(done, due))
            at = time.monotonic()
            committed.update((key, at) for key in keys)
            dispatcher.wake()
            done = due
        await asyncio.sleep(max(0.0, started + done / rate - time.monotonic()))
    produced = time.monotonic() - started
    await receiver.wait_for(list(committed), 60)
    latencies = [
        (receiver.arrived[key] - at) * 1000
        for key, at in committed.items()
        if key in receiver.arrived
    ]
    print(
        f"steady {rate:.0f}/s for {seconds:.0f}s: produced {total} in {produced:.1f}s; "
        f"delivered {len(latencies)}; commit->ticket p50 {statistics.median(latencies):.1f} ms, "
        f"p99 {_percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms "
        f"(target p99 < 250 ms: {'met' if _percentile(latencies, 0.99) < 250 else 'MISSED'})"
    )


async def backlog(dispatcher: OutboxDispatcher, receiver: Receiver, keys: list[str]) -> None:
    """Rows committed before the dispatcher starts: how fast it works them off."""
    count = len(keys)
    started = time.monotonic()
    async with dispatcher.running():
        await receiver.wait_for(keys, 300)
    elapsed = time.monotonic() - started
    done = sum(key in receiver.arrived for key in keys)
    print(f"backlog of {count}: {done} delivered in {elapsed:.1f}s = {done / elapsed:.0f}/s")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = args.db or f"sqlite://{Path(scratch)}/bench.sqlite3"
        db = Database(DatabaseSettings(url=url))
        await db.open()
        await migrate(db)
        receiver = Receiver(args.answer_ms)
        runner = web.AppRunner(receiver.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        config: SinkConfig = sink(
            name="hook",
            kind="webhook",
            url=f"http://127.0.0.1:{port}/hook",
            max_in_flight=args.in_flight,
        )
        dispatcher = build_dispatcher(
            [config],
            db,
            Metrics(),
            lambda: datetime.now(UTC),
            aiohttp.ClientSession,
            owner="bench",
            settings=DispatchSettings(poll_seconds=1.0),
        )
        try:
            print(
                f"database {db.dialect.value}, sink answers in {args.answer_ms:.0f} ms, "
                f"max_in_flight {args.in_flight}"
            )
            keys = await _commit_incidents(db, range(1_000_000, 1_000_000 + args.backlog))
            await backlog(dispatcher, receiver, keys)
            async with dispatcher.running():
                await steady(db, dispatcher, receiver, args.rate, args.seconds)
        finally:
            await runner.cleanup()
            await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--answer-ms", type=float, default=20.0)
    parser.add_argument("--backlog", type=int, default=5000)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--db", default=None)
    configure_logging("warning")
    asyncio.run(main(parser.parse_args()))
