"""API list queries on a large database: 100,000 incidents and 1,000,000 events.

The database is bulk-loaded (``bench.bulk_load``), the daemon is started on
it, and one client asks each list query in turn, many times, as an operator's
browser would: latency per query, p50 and p99. Target: p99 under 50 ms.

Usage: python -m bench.api_bench [--incidents N] [--events-per-incident E]
       [--requests R] [--db postgres://...]   (default SQLite)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from bench import pg
from bench.bulk_load import load
from bench.common import Row, figure
from bench.daemon import daemon
from bench.report import NotRun, Outcome, print_report

TARGET_MS = 50.0


def queries(incidents: int) -> list[tuple[str, str]]:
    """(what, path): every filter of the two list endpoints, and deep pages."""
    deep = incidents // 10
    return [
        ("incidents, newest", "/api/v1/incidents"),
        ("incidents, status=new", "/api/v1/incidents?status=new"),
        ("incidents, status=resolved,closed", "/api/v1/incidents?status=resolved,closed"),
        ("incidents, priority=P1", "/api/v1/incidents?priority=P1"),
        ("incidents, status=new&priority=P1", "/api/v1/incidents?status=new&priority=P1"),
        ("incidents, service", "/api/v1/incidents?service=svc-07"),
        ("incidents, type=complaint", "/api/v1/incidents?type=complaint"),
        ("incidents, major=true", "/api/v1/incidents?major=true"),
        ("incidents, service with none", "/api/v1/incidents?service=svc-none"),
        ("incidents, page deep (before)", f"/api/v1/incidents?before={deep}"),
        ("incidents, limit=500", "/api/v1/incidents?limit=500"),
        ("events, newest", "/api/v1/events"),
        ("events, status=firing", "/api/v1/events?status=firing"),
        ("events, incident_id", f"/api/v1/events?incident_id={incidents // 2}"),
        ("events, source=helpdesk", "/api/v1/events?source=helpdesk"),
        ("events, source with no events", "/api/v1/events?source=nagios-legacy"),
        ("events, status=firing&source=zabbix", "/api/v1/events?status=firing&source=zabbix"),
        ("events, page deep (before)", "/api/v1/events?before=1000"),
        ("events, limit=500", "/api/v1/events?limit=500"),
    ]


async def _timed(http: aiohttp.ClientSession, url: str, requests: int) -> tuple[float, list[float]]:
    latencies = []
    began = time.perf_counter()
    for _ in range(requests):
        started = time.perf_counter()
        async with http.get(url) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"{url} answered {response.status}")
        latencies.append(time.perf_counter() - started)
    return time.perf_counter() - began, latencies


async def _measure_on(
    url: str | None, label: str, incidents: int, per_incident: int, requests: int
) -> list[Outcome]:
    with tempfile.TemporaryDirectory(prefix="intake-api-bench-") as raw:
        directory = Path(raw)
        database = url or f"sqlite://{directory}/bench.sqlite3"
        started = time.monotonic()
        await load(database, incidents, per_incident)
        loaded = time.monotonic() - started
        size = f"{incidents // 1000}k incidents, {incidents * per_incident // 1000}k events"
        outcomes: list[Outcome] = []
        with daemon(directory / "daemon", database) as running:
            await running.ready()
            async with aiohttp.ClientSession() as http:
                for what, path in queries(incidents):
                    await _timed(http, running.base + path, 3)  # warm the caches
                    elapsed, latencies = await _timed(http, running.base + path, requests)
                    measured = figure(
                        "intake-gateway", requests, elapsed, latencies, 0, running.pid
                    )
                    verdict = "met" if measured.p99_ms < TARGET_MS else "MISSED"
                    target = f"p99 < {TARGET_MS:.0f} ms: {verdict}"
                    scenario = f"API {what} ({label}, {size})"
                    outcomes.append(Row(scenario, measured, None, "req/s", target))
    print(f"[bench] {label}: {size} bulk-loaded in {loaded:.0f} s", file=sys.stderr, flush=True)
    return outcomes


MeasureOn = Callable[[str | None, str, int, int, int], Awaitable[list[Outcome]]]


async def measure(
    incidents: int,
    per_incident: int,
    requests: int,
    engines: tuple[str, ...],
    measure_on: MeasureOn = _measure_on,
    what: str = "API list queries",
) -> list[Outcome]:
    """``measure_on`` per engine: SQLite in a scratch file, PostgreSQL in a scratch
    database (or a NotRun row when the server is not there)."""
    outcomes: list[Outcome] = []
    for engine in engines:
        if engine == "SQLite":
            outcomes += await measure_on(None, engine, incidents, per_incident, requests)
            continue
        missing = await pg.available()
        if missing:
            outcomes.append(NotRun(f"{what} ({engine})", missing))
            continue
        async with pg.scratch_database() as url:
            outcomes += await measure_on(url, engine, incidents, per_incident, requests)
    return outcomes


def run_bench(doc: str | None, measure_on: MeasureOn, what: str, title: str, requests: int) -> None:
    """The command line every large-database page bench shares: sizes, engines."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--events-per-incident", type=int, default=10)
    parser.add_argument("--requests", type=int, default=requests, help="per page or query")
    parser.add_argument(
        "--engines", nargs="+", default=["SQLite", "PostgreSQL"], choices=["SQLite", "PostgreSQL"]
    )
    args = parser.parse_args()
    outcomes = asyncio.run(
        measure(
            args.incidents,
            args.events_per_incident,
            args.requests,
            tuple(args.engines),
            measure_on,
            what,
        )
    )
    print_report(outcomes, title)


def main() -> None:
    run_bench(__doc__, _measure_on, "API list queries", "API list queries on a large database", 200)


if __name__ == "__main__":
    main()
