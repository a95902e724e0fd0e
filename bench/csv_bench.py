"""CSV export of /api/v1/incidents and /api/v1/events from a daemon process over a
large table (SQLite): rows per second and the daemon's peak memory before and after,
which stays flat as the export streams page by page.

    python -m bench.csv_bench [--incidents 100000] [--events 300000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.common import peak_rss_mb
from bench.daemon import daemon
from bench.reports_bench import load
from storage.database import Database, DatabaseSettings
from storage.migrations import migrate


async def _prepare(path: Path, incidents: int, events: int) -> None:
    db = Database(DatabaseSettings(url=f"sqlite://{path}", sqlite_synchronous="off"))
    await db.open()
    await migrate(db, scratch=True)
    await load(db, path, "", (incidents, events, 1000))
    await db.close()


async def _export(base: str, listing: str) -> tuple[int, float]:
    began = time.perf_counter()
    rows = -1  # the header
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/api/v1/{listing}?format=csv") as response,
    ):
        assert response.status == 200, response.status
        async for line in response.content:
            rows += 1 if line.endswith(b"\r\n") else 0
    return rows, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=300_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        path = directory / "bench.sqlite3"
        asyncio.run(_prepare(path, args.incidents, args.events))
        with daemon(directory, f"sqlite://{path}") as running:
            asyncio.run(running.ready())
            before = peak_rss_mb(running.proc.pid)
            print("| listing | rows | seconds | rows/s | daemon peak RSS MB before / after |")
            print("|---|---|---|---|---|")
            for listing in ("incidents", "events"):
                rows, seconds = asyncio.run(_export(running.base, listing))
                after = peak_rss_mb(running.proc.pid)
                print(f"| {listing} | {rows:,} | {seconds:.1f} | {rows / seconds:,.0f} | "
                      f"{before:.0f} / {after:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
