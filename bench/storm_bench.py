"""Alert storm: 100,000 alerts of 1,000 fingerprints as Alertmanager notifications.

The notifications (50 alerts each, the way Alertmanager groups them) come
from 32 clients as fast as they are answered. Two figures per side:

- acknowledged: alerts per second answered 2xx, and the answers' latency;
- processed: alerts per second from the first post until every alert is
  de-duplicated onto its event (the gateway: its pipeline has processed
  every stored notification; Alerta does that in the request, so its
  processed rate is its acknowledged rate).

The peer is Alerta's Prometheus webhook (``POST /webhooks/prometheus``,
which takes Alertmanager's notifications) on PostgreSQL.

Usage: python -m bench.storm_bench [--alerts N] [--engines SQLite PostgreSQL]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import tempfile
import time
from pathlib import Path

import orjson

from bench import alerta, pg
from bench.common import Figure, Row, figure, post_load
from bench.daemon import daemon, wait_processed
from bench.report import NotRun, Outcome, print_report

PER_NOTIFICATION = 50
FINGERPRINTS = 1000
CLIENTS = 32
_PROCESS_LIMIT_SECONDS = 900


def notification(
    number: int, size: int = PER_NOTIFICATION, fingerprints: int = FINGERPRINTS
) -> bytes:
    """Alertmanager's notification of alerts ``number * size`` to ``number * size + size - 1``."""
    first = number * size
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": f"Storm{identity % 20}",
                "instance": f"host-{identity}:9100",
                "job": "node",
                # severities both sides know (Alerta refuses Alertmanager's "info")
                "severity": ("critical", "warning")[identity % 2],
            },
            "annotations": {"summary": "storm", "value": str(alert)},
            "startsAt": "2026-01-05T08:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": f"{identity:016x}",
        }
        for alert in range(first, first + size)
        for identity in (alert % fingerprints,)
    ]
    return orjson.dumps(
        {
            "version": "4",
            "status": "firing",
            "receiver": "storm",
            "groupKey": "{}:{}",
            "groupLabels": {},
            "commonLabels": {"job": "node"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.bench:9093",
            "alerts": alerts,
        }
    )


def _processed(name: str, alerts: int, seconds: float, acknowledged: Figure) -> Figure:
    """A rate with no per-request latency: processing is not a request."""
    nan = float("nan")
    return dataclasses.replace(
        acknowledged, name=name, per_second=alerts / seconds, p50_ms=nan, p99_ms=nan
    )


async def _ours(directory: Path, alerts: int, db_url: str | None) -> tuple[Figure, Figure]:
    notifications = alerts // PER_NOTIFICATION
    with daemon(directory, db_url) as running:
        await running.ready()
        started = time.perf_counter()
        elapsed, latencies, errors = await post_load(
            running.alertmanager, notification, total=notifications, concurrency=CLIENTS
        )
        done = await wait_processed(running.base, notifications, _PROCESS_LIMIT_SECONDS)
        processed_after = time.perf_counter() - started
        acked = figure("intake-gateway", alerts, elapsed, latencies, errors, running.pid)
        if done < notifications:
            raise RuntimeError(f"only {done:.0f} of {notifications} notifications processed")
    return acked, _processed("intake-gateway", alerts, processed_after, acked)


async def measure(alerts: int, engines: tuple[str, ...] = ("SQLite",)) -> list[Outcome]:
    """The gateway on each engine (``SQLite``, ``PostgreSQL``); Alerta once, as the peer of all."""
    scenario = f"alert storm, {alerts:,} alerts of {FINGERPRINTS:,} fingerprints"
    missing = await pg.available()
    ours: list[tuple[str, Figure, Figure]] = []
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="intake-storm-") as raw:
        directory = Path(raw)
        for engine in engines:
            if engine == "SQLite":
                ours.append((engine, *await _ours(directory / engine, alerts, None)))
            elif missing:
                outcomes.append(NotRun(f"{scenario} ({engine})", missing))
            else:
                async with pg.scratch_database() as url:
                    ours.append((engine, *await _ours(directory / engine, alerts, url)))
        venv = missing if missing else await asyncio.to_thread(alerta.ensure)
        peer = None
        if not isinstance(venv, str):
            peer = await alerta.measure(
                venv,
                directory / "alerta.log",
                "/webhooks/prometheus",
                notification,
                requests=alerts // PER_NOTIFICATION,
                units=alerts,
                concurrency=CLIENTS,
            )
    if isinstance(venv, str):
        outcomes.append(NotRun(f"{scenario} (peer Alerta)", venv))
    # Alerta de-duplicates in the request: its acknowledged rate is its processed rate
    for engine, acked, processed in ours:
        outcomes.append(Row(f"{scenario} ({engine}): acknowledged", acked, peer, "alerts/s"))
        outcomes.append(Row(f"{scenario} ({engine}): processed", processed, peer, "alerts/s"))
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument(
        "--engines", nargs="+", default=["SQLite", "PostgreSQL"], choices=["SQLite", "PostgreSQL"]
    )
    args = parser.parse_args()
    outcomes = asyncio.run(measure(args.alerts, tuple(args.engines)))
    print_report(outcomes, "alert storm")


if __name__ == "__main__":
    main()
