"""Reports over a large history: 100,000 incidents, 1,000,000 events (with one
occurrence each) and 100,000 intake records spread over a year, on SQLite and
PostgreSQL. Each report is timed over the whole year and over its last 30 days,
through the same engine the API uses (best of three runs, after one warm-up).

    python -m bench.reports_bench [--incidents 100000] [--events 1000000]
        [--engines sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench import pg
from gateway.reports.engine import ReportEngine
from rules.loader import load_ruleset
from storage.database import Database, DatabaseSettings
from storage.migrations import migrate
from storage.report_sql import Period
from storage.reports import Reports
from storage.rollup import rebuild
from storage.sql import Sql

END = datetime(2026, 11, 30, tzinfo=UTC)
START = END - timedelta(days=365)
RULES = """
calendars:
  - {name: office, timezone: UTC, hours: {mon-fri: "09:00-17:00"}, holidays: [2026-10-01]}
sla:
  targets:
    - {priority: P1, calendar: 24x7, response: 15m, resolution: 4h}
    - {priority: P2, calendar: 24x7, response: 30m, resolution: 8h}
    - {priority: P3, calendar: office, response: 4h, resolution: 16h}
    - {priority: P4, calendar: office, response: 8h, resolution: 40h}
"""
REPORTS = ("summary", "sla", "volumes", "mttr", "offenders", "noise", "lifecycle")
SERVICES = [f"svc{n}" for n in range(40)]
OUTCOMES = ["new"] * 10 + ["deduplicated"] * 60 + ["correlated"] * 10 + ["suppressed"] * 8
OUTCOMES += ["inhibited"] * 4 + ["flapping"] * 3 + ["pending"] * 3 + ["resolved"] * 2


def _at(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.uniform(0, 365 * 86400))


def incidents(count: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    for number in range(1, count + 1):
        created = _at(rng)
        priority = rng.choice(["P1", "P2", "P3", "P3", "P4"])
        acked = (
            created + timedelta(seconds=rng.expovariate(1 / 1800)) if rng.random() < 0.8 else None
        )
        resolved = (
            created + timedelta(seconds=rng.expovariate(1 / 30000)) if rng.random() < 0.9 else None
        )
        yield {
            "id": number, "key": f"INC-{number:06d}", "title": f"incident {number}",
            "type": "incident", "status": "resolved" if resolved else "new", "priority": priority,
            "impact": 3, "urgency": 3, "major": rng.random() < 0.01,
            "service": rng.choice(SERVICES), "ci": f"host{rng.randrange(2000)}",
            "category": rng.choice(["disk", "network", "app", "db"]),
            "correlation_key": f"k{number}", "created_at": created, "updated_at": created,
            "acknowledged_at": acked, "resolved_at": resolved,
            "response_due": created + timedelta(minutes=30),
            "resolution_due": created + timedelta(hours=8),
            "problem_candidate": rng.random() < 0.02,
        }  # fmt: skip


def events(count: int, incident_count: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    for number in range(1, count + 1):
        seen = _at(rng)
        outcome = rng.choice(OUTCOMES)
        yield {
            "id": number, "fingerprint": f"fp{number}", "source": rng.choice(["am", "zbx", "mail"]),
            "kind": "generic", "name": f"alert{rng.randrange(500)}",
            "resource": f"host{rng.randrange(2000)}", "service": rng.choice(SERVICES),
            "severity": "critical", "status": "resolved", "summary": "s",
            "count": rng.randrange(1, 5),
            "first_seen": seen, "last_seen": seen, "last_outcome": outcome,
            "suppressed_by": "silence:1" if outcome == "suppressed" else "",
            "incident_id": rng.randrange(1, incident_count + 1), "labels": "{}",
            "transitions": "[]", "correlation_key": "k",
        }  # fmt: skip


def occurrences(rows: Sequence[dict[str, Any]], intakes: int) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield {
            "event_id": row["id"], "fingerprint": row["fingerprint"], "correlation_key": "k",
            "incident_id": row["incident_id"], "intake_id": row["id"] % intakes + 1,
            "outcome": row["last_outcome"], "at": row["first_seen"],
        }  # fmt: skip


def intake(count: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    for number in range(1, count + 1):
        yield {
            "id": number, "channel": rng.choice(["http", "smtp", "imap"]), "source": "am",
            "kind": "generic", "received_at": _at(rng), "meta": "{}", "body": b"{}", "size": 2,
            "state": "processed",
        }  # fmt: skip


JSON_LISTS = {"related_incidents", "routes", "escalated", "transitions"}


def _fill(column: str, kind: str) -> Any:
    """A value for a NOT NULL column the generator does not set."""
    kind = kind.lower()
    if column in JSON_LISTS:
        return "[]"
    if "json" in kind or column in ("labels", "meta", "data"):
        return "{}"
    if "bool" in kind:
        return False
    if "int" in kind:
        return 0
    if "time" in kind:
        return END
    return ""


async def _columns(db: Database, table: str) -> list[tuple[str, str, bool]]:
    """(name, type, required) of a table's columns without a database default."""
    if db.dialect.value == "sqlite":
        _, rows = await db.connection.execute_query(f"PRAGMA table_info({table})")
        return [(r["name"], r["type"], bool(r["notnull"]))
                for r in rows if r["dflt_value"] is None]  # fmt: skip
    _, rows = await db.connection.execute_query(
        "SELECT column_name, data_type, is_nullable, column_default "
        f"FROM information_schema.columns WHERE table_name = '{table}'"
    )
    return [(r["column_name"], r["data_type"], r["is_nullable"] == "NO")
            for r in rows if r["column_default"] is None or r["column_name"] == "id"]  # fmt: skip


def _row(
    row: dict[str, Any], columns: list[tuple[str, str, bool]], text_times: bool
) -> tuple[Any, ...]:
    values = []
    for name, kind, required in columns:
        value = row.get(name, _fill(name, kind) if required else None)
        if text_times and isinstance(value, datetime):
            value = value.isoformat(sep=" ", timespec="microseconds")
        if text_times and isinstance(value, bool):
            value = int(value)
        values.append(value)
    return tuple(values)


async def load(db: Database, path: Path | None, url: str, sizes: tuple[int, int, int]) -> None:
    incident_count, event_count, intake_count = sizes
    rng = random.Random(17)
    tables: list[tuple[str, Callable[[], Iterator[dict[str, Any]]]]] = [
        ("incidents", lambda: incidents(incident_count, rng)),
        ("intake_records", lambda: intake(intake_count, rng)),
    ]
    event_rows = list(events(event_count, incident_count, rng))
    tables += [("events", lambda: iter(event_rows)),
               ("occurrences", lambda: occurrences(event_rows, intake_count))]  # fmt: skip
    columns = {table: await _columns(db, table) for table, _ in tables}
    if path is not None:
        await db.close()
        connection = sqlite3.connect(path)
        for table, rows in tables:
            names = [c for c in columns[table] if c[0] != "id" or table != "occurrences"]
            marks = ", ".join("?" for _ in names)
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(n for n, _, _ in names)}) VALUES ({marks})",
                (_row(row, names, True) for row in rows()),
            )
        connection.commit()
        connection.execute("ANALYZE")
        connection.close()
        await db.open()
        await _rolled_up(db)
        return
    await db.close()
    connection = await asyncpg.connect(url)
    try:
        for table, rows in tables:
            names = [c for c in columns[table] if c[0] != "id" or table != "occurrences"]
            records = [_row(row, names, False) for row in rows()]
            await connection.copy_records_to_table(
                table, records=records, columns=[n for n, _, _ in names]
            )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    await db.open()
    await _rolled_up(db)


async def _rolled_up(db: Database) -> None:
    """The daily roll-up of the rows loaded around the pipeline, as the migration that
    adds it to an existing database builds it."""
    async with db.transaction() as connection:
        await rebuild(connection, Sql(db.dialect))


async def timings(db: Database, rules: Path) -> list[tuple[str, str, float]]:
    ruleset = load_ruleset(rules, None)
    engine = ReportEngine(Reports(db), lambda: ruleset, lambda: END)
    found = []
    for label, period in (
        ("365 days", Period(START, END)),
        ("30 days", Period(END - timedelta(days=30), END)),
    ):
        for name in REPORTS:
            build = getattr(engine, name)
            await build(period)  # warm-up
            best = min([await _timed(build, period) for _ in range(3)])
            found.append((name, label, best))
    return found  # fmt: skip


async def _timed(build: Callable[[Period], Any], period: Period) -> float:
    began = time.perf_counter()
    await build(period)
    return time.perf_counter() - began


async def run_engine(
    engine: str, sizes: tuple[int, int, int], scratch: Path
) -> list[tuple[str, str, float]]:
    rules = scratch / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "sla.yaml").write_text(RULES)
    if engine == "sqlite":
        path = scratch / "bench.sqlite3"
        db = Database(DatabaseSettings(url=f"sqlite://{path}", sqlite_synchronous="off"))
        await db.open()
        await migrate(db, scratch=True)
        began = time.perf_counter()
        await load(db, path, "", sizes)
        print(f"sqlite: loaded in {time.perf_counter() - began:.0f} s", flush=True)
        try:
            return await timings(db, rules)
        finally:
            await db.close()
    async with pg.scratch_database("intake_reports") as url:
        db = Database(DatabaseSettings(url=url))
        await db.open()
        await migrate(db, scratch=True)
        began = time.perf_counter()
        await load(db, None, url, sizes)
        print(f"postgres: loaded in {time.perf_counter() - began:.0f} s", flush=True)
        try:
            return await timings(db, rules)
        finally:
            await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--intake", type=int, default=100_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    sizes = (args.incidents, args.events, args.intake)
    table: dict[tuple[str, str], dict[str, float]] = {}
    for engine in args.engines.split(","):
        with tempfile.TemporaryDirectory() as scratch:
            for name, label, seconds in asyncio.run(run_engine(engine, sizes, Path(scratch))):
                table.setdefault((name, label), {})[engine] = seconds
    engines = args.engines.split(",")
    print(f"\n{args.incidents:,} incidents, {args.events:,} events, {args.intake:,} intake records")
    print("| report | period | " + " | ".join(f"{e} ms" for e in engines) + " |")
    print("|---|---|" + "---|" * len(engines))
    for (name, label), figures in table.items():
        cells = " | ".join(f"{figures.get(e, float('nan')) * 1000:,.0f}" for e in engines)
        print(f"| {name} | {label} | {cells} |")


if __name__ == "__main__":
    main()
