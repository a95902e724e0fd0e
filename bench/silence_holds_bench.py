"""What the per-silence counts cost the writer of events: suppressed events written
with the triggers of migration 14 and without them, by a bare writer and by the
daemon's pipeline.

The writer: on a fresh database of each engine,
``--rounds`` transactions each insert
``--per-transaction`` events under one silence and update each once (a repeat
of the alert, as the pipeline writes it), then the same without the triggers
(dropped), three times in turn. Events per second of the writer, best of three;
the rows written by the two runs are alike.

The pipeline: a daemon on a fresh database (its triggers dropped before it
starts, for the side without), one silence matching every alert, then an alert
storm (``bench.storm_bench``'s notifications, ``--alerts`` alerts of 1,000
fingerprints, 32 clients): alerts per second until all are processed, every one
suppressed. Both sides twice, in turn; the better of each.

Usage: python -m bench.silence_holds_bench [--rounds N] [--per-transaction E]
       [--alerts A] [--engines SQLite PostgreSQL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import aiohttp

from bench import pg
from bench.common import post_load
from bench.daemon import daemon, wait_processed
from bench.storm_bench import PER_NOTIFICATION, notification
from storage.database import Database, DatabaseSettings, Dialect
from storage.migrations import migrate
from storage.silence_holds import silence_holds_ddl
from storage.sql import Sql

_INSERT = (
    "INSERT INTO events (fingerprint, source, kind, name, resource, service, ci, "
    "environment, severity, status, summary, description, labels, url, count, "
    "first_seen, last_seen, last_outcome, suppressed_by, flapping, transitions, "
    "correlation_key) VALUES (?, 'am', 'alertmanager', 'n', 'r', '', '', '', 'critical', "
    "'firing', 's', '', '{}', '', 1, ?, ?, 'suppressed', 'silence:1', false, '[]', 'k') "
    "RETURNING id"
)
_UPDATE = (
    "UPDATE events SET suppressed_by = 'silence:1', last_seen = ?, count = count + 1 WHERE id = ?"
)
_DROP = {
    Dialect.SQLITE: 'DROP TRIGGER "silence_holds_insert"; DROP TRIGGER "silence_holds_update"; '
    'DROP TRIGGER "silence_holds_delete";',
    Dialect.POSTGRES: 'DROP TRIGGER "silence_holds_insert" ON "events"; '
    'DROP TRIGGER "silence_holds_update" ON "events"; '
    'DROP TRIGGER "silence_holds_delete" ON "events";',
}
_numbers = count()


async def _write(db: Database, rounds: int, per_transaction: int) -> float:
    """Events per second written (inserted, then updated once)."""
    sql = Sql(db.dialect)
    started = time.perf_counter()
    for _ in range(rounds):
        async with db.transaction() as connection:
            for _ in range(per_transaction):
                moment = sql.time(datetime.now(UTC))
                rows = await connection.execute_query_dict(
                    sql(_INSERT), [f"fp-{next(_numbers)}", moment, moment]
                )
                await connection.execute_query(sql(_UPDATE), [moment, rows[0]["id"]])
    return rounds * per_transaction / (time.perf_counter() - started)


async def _engine(url: str, label: str, rounds: int, per_transaction: int) -> None:
    db = Database(DatabaseSettings(url=url))
    await db.open()
    try:
        await migrate(db)
        kept, bare = 0.0, 0.0
        for _ in range(3):  # alternated, so a growing table and the machine's load move both
            await db.connection.execute_script(silence_holds_ddl(db.dialect))
            kept = max(kept, await _write(db, rounds, per_transaction))
            await db.connection.execute_script(_DROP[db.dialect])
            bare = max(bare, await _write(db, rounds, per_transaction))
    finally:
        await db.close()
    print(
        f"{label}: {kept:,.0f} events/s with the counts, {bare:,.0f} without "
        f"(the counts cost {(bare - kept) / bare:.0%} of the writer's rate)",
        flush=True,
    )


async def _storm(url: str, directory: Path, alerts: int, counted: bool) -> float:
    """Alerts per second of the pipeline through a storm that one silence holds."""
    db = Database(DatabaseSettings(url=url))
    await db.open()
    try:
        await migrate(db)
        if not counted:
            await db.connection.execute_script(_DROP[db.dialect])
    finally:
        await db.close()
    notifications = alerts // PER_NOTIFICATION
    with daemon(directory, url) as running:
        await running.ready()
        body = {
            "matchers": [{"name": "job", "op": "=", "value": "node"}],
            "ends_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            "author": "bench",
            "comment": "the storm",
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{running.base}/api/v1/silences", json=body) as response,
        ):
            if response.status != 201:
                raise RuntimeError(f"silence: {response.status} {await response.text()}")
        started = time.perf_counter()
        await post_load(running.alertmanager, notification, total=notifications, concurrency=32)
        done = await wait_processed(running.base, notifications, 900)
        rate = alerts / (time.perf_counter() - started)
        if done < notifications:
            raise RuntimeError(f"only {done:.0f} of {notifications} notifications processed")
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{running.base}/api/v1/events?limit=500") as response,
        ):
            held = {item["suppressed_by"] for item in (await response.json())["items"]}
        if held != {"silence:1"}:
            raise RuntimeError(f"the storm was not all held by the silence: {held}")
        return rate


async def _pipeline(engine: str, alerts: int) -> None:
    rates: dict[bool, float] = {True: 0.0, False: 0.0}
    for round_ in range(2):
        for counted in (True, False):
            with tempfile.TemporaryDirectory(prefix="intake-holds-storm-") as raw:
                directory = Path(raw)
                if engine == "SQLite":
                    url = f"sqlite://{directory}/bench.sqlite3"
                    rate = await _storm(url, directory / f"d{round_}", alerts, counted)
                else:
                    async with pg.scratch_database() as url:
                        rate = await _storm(url, directory / f"d{round_}", alerts, counted)
            rates[counted] = max(rates[counted], rate)
    kept, bare = rates[True], rates[False]
    print(
        f"{engine} pipeline, {alerts:,} suppressed alerts: {kept:,.0f} alerts/s with the "
        f"counts, {bare:,.0f} without (the counts cost {(bare - kept) / bare:.0%})",
        flush=True,
    )


async def _main(rounds: int, per_transaction: int, alerts: int, engines: list[str]) -> None:
    for engine in engines:
        if engine == "PostgreSQL":
            missing = await pg.available()
            if missing:
                print(f"{engine}: not run: {missing}")
                continue
        if engine == "SQLite":
            with tempfile.TemporaryDirectory(prefix="intake-holds-bench-") as raw:
                await _engine(f"sqlite://{raw}/bench.sqlite3", engine, rounds, per_transaction)
        else:
            async with pg.scratch_database() as url:
                await _engine(url, engine, rounds, per_transaction)
        if alerts:
            await _pipeline(engine, alerts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--per-transaction", type=int, default=20)
    parser.add_argument("--alerts", type=int, default=20_000, help="0: no pipeline storm")
    parser.add_argument(
        "--engines", nargs="+", default=["SQLite", "PostgreSQL"], choices=["SQLite", "PostgreSQL"]
    )
    args = parser.parse_args()
    asyncio.run(_main(args.rounds, args.per_transaction, args.alerts, args.engines))


if __name__ == "__main__":
    main()
