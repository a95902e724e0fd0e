"""Steady memory: the daemon taking 1,000 alerts/s for ten minutes.

Alertmanager notifications of 10 alerts (5,000 fingerprints cycling, every
alert firing with its own value) arrive at a fixed rate, open loop: a
notification is sent when it is due whether or not earlier ones were
answered, as a fleet of senders would. The daemon's resident memory is
sampled every few seconds. Reported: the rate achieved, the answers'
latency, the peak RSS (target: under 250 MB), and RSS after the first
minute against RSS at the end (growth means something piles up).

Usage: python -m bench.memory_bench [--minutes 10] [--rate 1000] [--db URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.common import Row, figure
from bench.daemon import daemon, wait_processed
from bench.report import Outcome, print_report
from bench.storm_bench import notification

PER_REQUEST = 10
FINGERPRINTS = 5000
CLIENTS = 64
TARGET_MB = 250.0
_SAMPLE_SECONDS = 5.0
_DRAIN_SECONDS = 120.0


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _sample(pid: int, samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    started = time.monotonic()
    while not stop.is_set():
        samples.append((time.monotonic() - started, resident_mb(pid)))
        try:
            await asyncio.wait_for(stop.wait(), _SAMPLE_SECONDS)
        except TimeoutError:
            continue


async def _paced(url: str, per_second: float, total: int) -> tuple[float, list[float], int]:
    """Send ``total`` notifications, each when it is due; (seconds, latencies, errors)."""
    numbers = iter(range(total))
    latencies: list[float] = []
    errors = 0
    headers = {"Content-Type": "application/json"}

    async def client(http: aiohttp.ClientSession, began: float) -> None:
        nonlocal errors
        for number in numbers:
            delay = began + number / per_second - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            body = notification(number, PER_REQUEST, FINGERPRINTS)
            started = time.perf_counter()
            try:
                async with http.post(url, data=body, headers=headers) as response:
                    await response.read()
                    errors += response.status != 202
            except aiohttp.ClientError:
                errors += 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector) as http:
        began = time.monotonic()
        await asyncio.gather(*(client(http, began) for _ in range(CLIENTS)))
        return time.monotonic() - began, latencies, errors


async def measure(minutes: float, rate: float, db_url: str | None, label: str) -> list[Outcome]:
    notifications = int(minutes * 60 * rate / PER_REQUEST)
    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()
    with (
        tempfile.TemporaryDirectory(prefix="intake-memory-bench-") as raw,
        daemon(Path(raw), db_url) as running,
    ):
        await running.ready()
        sampler = asyncio.create_task(_sample(running.pid, samples, stop))
        elapsed, latencies, errors = await _paced(
            running.alertmanager, rate / PER_REQUEST, notifications
        )
        await wait_processed(running.base, notifications, _DRAIN_SECONDS)
        stop.set()
        await sampler
        measured = figure(
            "intake-gateway", notifications * PER_REQUEST, elapsed, latencies, errors, running.pid
        )
    after_a_minute = next((mb for at, mb in samples if at >= 60), samples[-1][1])
    verdict = "met" if measured.peak_rss_mb < TARGET_MB else "MISSED"
    target = (
        f"peak RSS < {TARGET_MB:.0f} MB: {verdict}; RSS {after_a_minute:.0f} MB after 1 min, "
        f"{samples[-1][1]:.0f} MB at the end"
    )
    scenario = f"steady {rate:,.0f} alerts/s for {minutes:g} min ({label})"
    return [Row(scenario, measured, None, "alerts/s", target)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="alerts per second")
    parser.add_argument("--db", default=None, help="postgres:// URL; default SQLite")
    args = parser.parse_args()
    label = "PostgreSQL" if args.db else "SQLite"
    outcomes = asyncio.run(measure(args.minutes, args.rate, args.db, label))
    print_report(outcomes, "steady memory under load")


if __name__ == "__main__":
    main()
