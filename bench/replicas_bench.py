"""Scale-out: generic webhook intake of three replicas on one PostgreSQL, together,
against one replica on the same server, measured in the same run.

Each replica gets a third of the clients (a load balancer spreading
connections), all post distinct alerts of 1,000 fingerprints, and every
replica's pipeline correlates what it took in meanwhile. On one machine the
replicas share its cores with PostgreSQL and the load generator, so this
shows what the shared database allows, not what three machines would do.

Usage: python -m bench.replicas_bench [--total N] [--concurrency C] [--replicas R]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench import pg
from bench.alerta_bench import generic_alert
from bench.common import Figure, Row, figure, peak_rss_mb, post_load
from bench.daemon import Daemon, daemon
from bench.report import NotRun, Outcome, print_report

FINGERPRINTS = 1000
WARM_UP = 500


def _alert(number: int) -> bytes:
    return generic_alert(number, FINGERPRINTS)


async def _spread(
    replicas: list[Daemon], total: int, concurrency: int
) -> tuple[float, list[float], int]:
    """``total`` posts, ``concurrency`` clients spread evenly over the replicas."""
    share = total // len(replicas)
    clients = max(1, concurrency // len(replicas))

    async def one(index: int, replica: Daemon) -> tuple[float, list[float], int]:
        offset = index * share
        return await post_load(
            replica.generic, lambda n: _alert(offset + n), total=share, concurrency=clients
        )

    started = time.perf_counter()
    results = await asyncio.gather(*(one(i, r) for i, r in enumerate(replicas)))
    elapsed = time.perf_counter() - started
    latencies = [value for _, values, _ in results for value in values]
    return elapsed, latencies, sum(errors for _, _, errors in results)


async def _replicas(directory: Path, count: int, total: int, concurrency: int) -> Figure:
    async with pg.scratch_database() as url:
        with ExitStack() as stack:
            replicas = [
                stack.enter_context(daemon(directory / f"replica-{index}", url))
                for index in range(count)
            ]
            for replica in replicas:
                await replica.ready()
            await _spread(replicas, WARM_UP * count, concurrency)
            elapsed, latencies, errors = await _spread(replicas, total, concurrency)
            name = f"{count} replica{'s' if count > 1 else ''}"
            measured = figure(name, total, elapsed, latencies, errors, replicas[0].pid)
            rss = sum(peak_rss_mb(replica.pid) for replica in replicas)
            return Figure(
                measured.name,
                measured.per_second,
                measured.p50_ms,
                measured.p99_ms,
                rss,
                measured.requests,
                measured.errors,
            )


async def measure(total: int, concurrency: int, count: int = 3) -> list[Outcome]:
    scenario = f"generic intake, {count} replicas on one PostgreSQL ({concurrency} clients)"
    missing = await pg.available()
    if missing:
        return [NotRun(scenario, missing)]
    with tempfile.TemporaryDirectory(prefix="intake-replicas-bench-") as raw:
        directory = Path(raw)
        single = await _replicas(directory / "one", 1, total, concurrency)
        several = await _replicas(directory / "several", count, total, concurrency)
    return [Row(scenario, several, single, "req/s", "peer: 1 replica; RSS summed")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=30_000)
    parser.add_argument("--concurrency", type=int, default=48)
    parser.add_argument("--replicas", type=int, default=3)
    args = parser.parse_args()
    outcomes = asyncio.run(measure(args.total, args.concurrency, args.replicas))
    print_report(outcomes, "replicas on PostgreSQL")


if __name__ == "__main__":
    main()
