"""The console's incident list on a large database: 100,000 incidents and
1,000,000 events.

The database is bulk-loaded (``bench.bulk_load``), the daemon is started on it
with one operator, who logs in; then each list page (filters, orders, a deep
page, an incident's page) is asked for in turn, many times, as the operator's
browser would. Latency per page as the client sees it on loopback (an upper
bound of the server's time), p50 and p99. Target: p99 under 300 ms.

Usage: python -m bench.console_bench [--incidents N] [--events-per-incident E]
       [--requests R] [--engines SQLite PostgreSQL]
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import aiohttp

from bench.api_bench import _timed, run_bench
from bench.bulk_load import load
from bench.common import Row, figure
from bench.daemon import daemon
from bench.report import Outcome
from gateway.web.passwords import hash_password

TARGET_MS = 300.0
PASSWORD = "bench-password"


def pages(incidents: int) -> list[tuple[str, str]]:
    """(what, path): the list with each filter and order, a deep page, one incident."""
    return [
        ("list, newest", "/ui/incidents"),
        ("list, open", "/ui/incidents?status=new,acknowledged"),
        ("list, status=new&priority=P1", "/ui/incidents?status=new&priority=P1"),
        ("list, service", "/ui/incidents?service=svc-07"),
        ("list, type=complaint", "/ui/incidents?type=complaint"),
        ("list, major", "/ui/incidents?major=true"),
        ("list, source", "/ui/incidents?source=zabbix"),
        ("list, title text", "/ui/incidents?q=disk"),
        ("list, priority order", "/ui/incidents?sort=priority"),
        ("list, oldest first", "/ui/incidents?sort=oldest"),
        ("list, deep page", f"/ui/incidents?after=~{incidents // 10}"),
        ("list, live refresh fragment", "/ui/incidents?fragment=1"),
        ("incident page", f"/ui/incidents/{incidents // 2}"),
    ]


async def _log_in(http: aiohttp.ClientSession, base: str) -> None:
    async with http.get(f"{base}/ui/login") as response:
        token = re.search(r'name="csrf" value="([^"]+)"', await response.text())
    assert token is not None
    form = {"name": "bench", "password": PASSWORD, "csrf": token.group(1)}
    async with http.post(f"{base}/ui/login", data=form, allow_redirects=False) as response:
        if response.status != 303:
            raise RuntimeError(f"login answered {response.status}")


Prepare = Callable[[str, int], Awaitable[None]]


async def measure_console(
    url: str | None,
    label: str,
    incidents: int,
    per_incident: int,
    requests: int,
    paths: Sequence[tuple[str, str]],
    prepare: Prepare | None = None,
    what_more: str = "",
) -> list[Outcome]:
    """Bulk-load, let ``prepare`` add to the database (its URL, the events' number),
    start the daemon, log in and time each of ``paths``."""
    with tempfile.TemporaryDirectory(prefix="intake-console-bench-") as raw:
        directory = Path(raw)
        database = url or f"sqlite://{directory}/bench.sqlite3"
        started = time.monotonic()
        await load(database, incidents, per_incident)
        if prepare is not None:
            await prepare(database, incidents * per_incident)
        loaded = time.monotonic() - started
        size = f"{incidents // 1000}k incidents, {incidents * per_incident // 1000}k events"
        people = [{"name": "bench", "role": "operator", "password_hash": hash_password(PASSWORD)}]
        outcomes: list[Outcome] = []
        with daemon(directory / "daemon", database, console={"people": people}) as running:
            await running.ready()
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as http:
                await _log_in(http, running.base)
                for what, path in paths:
                    await _timed(http, running.base + path, 3)  # warm the caches
                    elapsed, latencies = await _timed(http, running.base + path, requests)
                    measured = figure(
                        "intake-gateway", requests, elapsed, latencies, 0, running.pid
                    )
                    verdict = "met" if measured.p99_ms < TARGET_MS else "MISSED"
                    target = f"p99 < {TARGET_MS:.0f} ms: {verdict}"
                    scenario = f"console {what} ({label}, {size}{what_more})"
                    outcomes.append(Row(scenario, measured, None, "req/s", target))
    print(f"[bench] {label}: {size} loaded in {loaded:.0f} s", file=sys.stderr, flush=True)
    return outcomes


async def _measure_on(
    url: str | None, label: str, incidents: int, per_incident: int, requests: int
) -> list[Outcome]:
    return await measure_console(url, label, incidents, per_incident, requests, pages(incidents))


def main() -> None:
    run_bench(
        __doc__,
        _measure_on,
        "console list pages",
        "Console list pages on a large database",
        100,
    )


if __name__ == "__main__":
    main()
