"""What the redirect of merged incidents costs the pipeline.

An event whose correlation key has no open incident (and whose event row has
none either) asks once more: was an incident of this key merged into another?
(``storage.incident_state``, through the partial index of migration 12.) This
script times that question on a database of 100,000 incidents of 10,000
recurring correlation keys, 1% of them merged, beside the question every event
asks already (the open incident of its key), on SQLite and PostgreSQL.

Usage: python -m bench.merge_lookup_bench [--incidents N] [--lookups L]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import pg
from storage import Database, DatabaseSettings, migrate
from storage.incident_state import incident_columns
from storage.sql import Sql

KEYS_PER_INCIDENTS = 10  # each key has had this many incidents
MERGED_EVERY = 100

OPEN = "SELECT {columns} FROM incidents WHERE open_key = ?"
REDIRECT = (
    "SELECT {columns} FROM incidents WHERE id = (SELECT merged_into_id FROM incidents "
    "WHERE correlation_key = ? AND merged_into_id IS NOT NULL ORDER BY id DESC LIMIT 1)"
)


async def _seed(db: Database, sql: Sql, incidents: int) -> None:
    now = sql.time(datetime(2026, 1, 5, 8, tzinfo=UTC))
    keys = incidents // KEYS_PER_INCIDENTS
    rows: list[list[Any]] = []
    for number in range(1, incidents + 1):
        merged = number + 1 if number % MERGED_EVERY == 0 else None
        rows.append([f"alert {number}", f"key-{number % keys}", merged, now, now])
    # every NOT NULL column: the models' defaults are applied by the ORM, not the table
    statement = sql(
        "INSERT INTO incidents (title, correlation_key, merged_into_id, created_at, updated_at, "
        "type, status, priority, impact, urgency, major, service, ci, environment, category, "
        "assignment_group, requester, owner, event_count, firing_events, response_breached, "
        "resolution_breached, problem_candidate, related_incidents, routes, escalated) "
        "VALUES (?, ?, ?, ?, ?, 'incident', 'closed', 'P3', 3, 3, ?, '', '', '', '', '', '', "
        "'', 1, 0, ?, ?, ?, '[]', '[]', '[]')"
    )
    rows = [[*row, False, False, False, False] for row in rows]
    async with db.transaction() as connection:
        for start in range(0, len(rows), 1000):
            await connection.execute_many(statement, rows[start : start + 1000])
    if sql.postgres:
        await db.connection.execute_script("ANALYZE incidents")


async def _time(db: Database, statement: str, keys: list[str]) -> list[float]:
    took = []
    for key in keys:
        started = time.perf_counter()
        await db.connection.execute_query_dict(statement, [key])
        took.append((time.perf_counter() - started) * 1e6)
    return took


async def measure(url: str, incidents: int, lookups: int) -> dict[str, list[float]]:
    db = Database(DatabaseSettings(url=url))
    await db.open()
    try:
        await migrate(db, scratch=True)
        sql = Sql(db.dialect)
        await _seed(db, sql, incidents)
        columns = incident_columns(sql)
        keys = incidents // KEYS_PER_INCIDENTS
        # keys that had a merge (every MERGED_EVERY-th incident) and keys that had none
        merged = [f"key-{n % keys}" for n in range(MERGED_EVERY, incidents + 1, MERGED_EVERY)]
        plain = [f"key-{n}" for n in range(keys) if f"key-{n}" not in set(merged)]
        asked = (plain * (lookups // len(plain) + 1))[:lookups]
        merged_asked = (merged * (lookups // len(merged) + 1))[:lookups]
        open_sql, redirect_sql = (
            sql(OPEN.format(columns=columns)),
            sql(REDIRECT.format(columns=columns)),
        )
        await _time(db, redirect_sql, asked[:200])  # warm the caches
        return {
            "open incident of the key (every event)": await _time(db, open_sql, asked),
            "redirect, key never merged": await _time(db, redirect_sql, asked),
            "redirect, key merged": await _time(db, redirect_sql, merged_asked),
        }
    finally:
        await db.close()


def _print(engine: str, figures: dict[str, list[float]]) -> None:
    print(f"\n{engine}: microseconds per lookup")
    print(f"{'lookup':42} {'p50':>8} {'p99':>8} {'mean':>8}")
    for name, took in figures.items():
        ordered = sorted(took)
        p99 = ordered[int(len(ordered) * 0.99) - 1]
        print(
            f"{name:42} {statistics.median(ordered):8.0f} {p99:8.0f} {statistics.mean(took):8.0f}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite://{Path(scratch) / 'bench.sqlite3'}"
        _print("SQLite", await measure(url, args.incidents, args.lookups))
    reason = await pg.available()
    if reason is not None:
        print(f"\nPostgreSQL: not run ({reason})")
        return
    async with pg.scratch_database() as url:
        _print("PostgreSQL", await measure(url, args.incidents, args.lookups))


if __name__ == "__main__":
    asyncio.run(main())
