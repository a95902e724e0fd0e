"""Generic alert intake on PostgreSQL: the gateway's webhook vs Alerta's ``POST /alert``.

The same alerts (``fingerprints`` identities cycling, each body distinct),
the same load generator, concurrency and database server, each side on its
own fresh database. The gateway answers 202 once the raw body is committed
and correlates in its pipeline; Alerta answers once it has de-duplicated
and stored the alert. Peak RSS of Alerta is its gunicorn master and workers.

Usage: python -m bench.alerta_bench [--total N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import orjson

from bench import alerta, pg
from bench.common import Figure, Row, figure, post_load
from bench.daemon import daemon
from bench.report import NotRun, Outcome, print_report

WARM_UP = 500


def generic_alert(number: int, fingerprints: int) -> bytes:
    """The gateway's generic webhook with the same alert as ``alerta.alert_body``."""
    index = number % fingerprints
    return orjson.dumps(
        {
            "name": f"check-{index}",
            "resource": f"host-{index % 50}",
            "severity": "high",
            "service": "web",
            "environment": "Production",
            "summary": f"benchmark alert {number}",
        }
    )


async def _ours(directory: Path, total: int, concurrency: int, fingerprints: int) -> Figure:
    async with pg.scratch_database() as url:
        with daemon(directory, url) as running:
            await running.ready()
            await post_load(
                running.generic,
                lambda n: generic_alert(-n - 1, fingerprints),
                total=WARM_UP,
                concurrency=concurrency,
            )
            elapsed, latencies, errors = await post_load(
                running.generic,
                lambda n: generic_alert(n, fingerprints),
                total=total,
                concurrency=concurrency,
            )
            return figure("intake-gateway", total, elapsed, latencies, errors, running.pid)


async def measure(total: int, concurrency: int, fingerprints: int = 1000) -> list[Outcome]:
    scenario = f"generic alert intake, PostgreSQL, {concurrency} clients, vs Alerta"
    missing = await pg.available()
    if missing:
        return [NotRun(scenario, missing)]
    venv = await asyncio.to_thread(alerta.ensure)
    with tempfile.TemporaryDirectory(prefix="intake-alerta-bench-") as raw:
        directory = Path(raw)
        ours = await _ours(directory / "ours", total, concurrency, fingerprints)
        if isinstance(venv, str):
            return [Row(scenario, ours, None, "alerts/s"), NotRun(f"{scenario} (peer)", venv)]
        peer = await alerta.measure(
            venv,
            directory / "alerta.log",
            "/alert",
            lambda n: alerta.alert_body(n, fingerprints),
            requests=total,
            units=total,
            concurrency=concurrency,
            warm_up=WARM_UP,
        )
    return [Row(scenario, ours, peer, "alerts/s")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    outcomes = asyncio.run(measure(args.total, args.concurrency))
    print_report(outcomes, "generic alert intake vs Alerta")


if __name__ == "__main__":
    main()
