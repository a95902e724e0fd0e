"""Alertmanager-payload intake: the gateway's webhook next to Alertmanager's own API.

Both sides take the same alerts in the same run on the same machine, with
the same load generator, batch size per request and concurrency:

- the gateway: ``POST /webhooks/alertmanager`` with Alertmanager's webhook
  payload (version 4, ``batch`` alerts). It validates every alert, commits
  the raw body durably (SQLite, WAL, synchronous=FULL) before its 202, and
  de-duplicates the alerts into events in its pipeline meanwhile;
- the gateway's intake path alone (``bench.webhook_intake``): the same
  handler and durable commit, with no pipeline competing for the process;
- Alertmanager: ``POST /api/v2/alerts`` with the same ``batch`` alerts, as
  Prometheus posts them. It keeps alerts in memory only.

Alerts cycle through ``distinct`` label sets (one fingerprint each); each
carries its evaluation's value as an annotation, as Prometheus alerts do,
so no two bodies are the same.

Usage: python -m bench.alertmanager_bench [--alerts N] [--batch B] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson

from bench import webhook_bench
from bench.common import (
    PYTHON,
    Figure,
    Row,
    figure,
    free_port,
    median_figure,
    post_load,
    print_table,
    process,
    wait_http,
)

_STARTS_AT = "2026-01-05T08:00:00Z"


def alert_labels(number: int, distinct: int) -> dict[str, str]:
    identity = number % distinct
    return {
        "alertname": f"Bench{identity % 20}",
        "instance": f"host-{identity}:9100",
        "job": "node",
        "severity": ("critical", "warning", "info")[identity % 3],
    }


def webhook_body(first: int, batch: int, distinct: int) -> bytes:
    """Alertmanager's webhook notification holding alerts ``first`` .. ``first + batch - 1``."""
    alerts = [
        {
            "status": "firing",
            "labels": alert_labels(number, distinct),
            "annotations": {"summary": "benchmark alert", "value": str(number)},
            "startsAt": _STARTS_AT,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.bench:9090/graph",
            "fingerprint": f"{number % distinct:016x}",
        }
        for number in range(first, first + batch)
    ]
    return orjson.dumps(
        {
            "version": "4",
            "status": "firing",
            "receiver": "intake-gateway",
            "groupKey": "{}:{}",
            "truncatedAlerts": 0,
            "groupLabels": {},
            "commonLabels": {"job": "node"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.bench:9093",
            "alerts": alerts,
        }
    )


def api_body(first: int, batch: int, distinct: int, ends_at: str) -> bytes:
    """The same alerts as Prometheus posts them to Alertmanager's /api/v2/alerts."""
    return orjson.dumps(
        [
            {
                "labels": alert_labels(number, distinct),
                "annotations": {"summary": "benchmark alert", "value": str(number)},
                "startsAt": _STARTS_AT,
                "endsAt": ends_at,
                "generatorURL": "http://prometheus.bench:9090/graph",
            }
            for number in range(first, first + batch)
        ]
    )


def gateway_config(directory: Path, port: int, db_url: str | None) -> Path:
    """The generic webhook benchmark's config, with an Alertmanager integration instead."""
    path = webhook_bench.gateway_config(directory, port, db_url)
    document = orjson.loads(path.read_bytes())
    document["integrations"] = [{"name": "alertmanager", "kind": "alertmanager"}]
    path.write_bytes(orjson.dumps(document))
    return path


def alertmanager_config(directory: Path) -> Path:
    """No receiver configs (a blackhole) and a long group_wait: intake only."""
    document = {
        "route": {"receiver": "blackhole", "group_wait": "1h", "group_by": ["alertname"]},
        "receivers": [{"name": "blackhole"}],
    }
    path = directory / "alertmanager.yml"
    path.write_bytes(orjson.dumps(document))
    return path


@dataclass(frozen=True, slots=True)
class Side:
    """One server under the same load: how to start it and what to post to it."""

    name: str
    command: list[str]
    ready_path: str
    post_path: str
    body: Callable[[int, int, int], bytes]  # (first alert, batch, distinct) -> body


async def _measure(side: Side, port: int, log: Path, args: argparse.Namespace) -> Figure:
    with process(side.command, log) as proc:
        base = f"http://127.0.0.1:{port}"
        await wait_http(f"{base}{side.ready_path}", proc)
        url = f"{base}{side.post_path}"

        def warm_up(n: int) -> bytes:  # alerts before the measured ones: same shapes
            return side.body(-(n + 1) * args.batch, args.batch, args.distinct)

        def measured(n: int) -> bytes:
            return side.body(n * args.batch, args.batch, args.distinct)

        await post_load(url, warm_up, total=args.warmup, concurrency=args.concurrency)
        elapsed, latencies, errors = await post_load(
            url, measured, total=args.alerts // args.batch, concurrency=args.concurrency
        )
        return figure(side.name, args.alerts, elapsed, latencies, errors, proc.pid)


@asynccontextmanager
async def scratch_database(admin_url: str | None) -> AsyncIterator[str | None]:
    """A new PostgreSQL database for one side of one round (None: use SQLite)."""
    if admin_url is None:
        yield None
        return
    name = f"intake_am_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def _sides(
    directory: Path, binary: str, ends_at: str, daemon_db: str | None, intake_db: str | None
) -> list[tuple[Side, int]]:
    """The whole daemon, its intake path alone and Alertmanager, each on a free port."""
    directory.mkdir()
    ports = [free_port() for _ in range(3)]
    config = gateway_config(directory, ports[0], daemon_db)
    intake_db = intake_db or f"sqlite://{directory}/intake-only.sqlite3"
    alertmanager = [
        binary,
        f"--config.file={alertmanager_config(directory)}",
        f"--storage.path={directory / 'alertmanager-data'}",
        f"--web.listen-address=127.0.0.1:{ports[2]}",
        "--cluster.listen-address=",
    ]
    webhook = "/webhooks/alertmanager"
    sides = [
        Side(
            "intake-gateway",
            [PYTHON, "-m", "gateway.cli", "run", "--config", str(config)],
            "/readyz",
            webhook,
            webhook_body,
        ),
        Side(
            "intake path only",
            [PYTHON, "-m", "bench.webhook_intake", str(ports[1]), intake_db, "alertmanager"],
            "/readyz",
            webhook,
            webhook_body,
        ),
        Side(
            "Alertmanager /api/v2/alerts",
            alertmanager,
            "/-/ready",
            "/api/v2/alerts",
            lambda first, batch, distinct: api_body(first, batch, distinct, ends_at),
        ),
    ]
    return list(zip(sides, ports, strict=True))


async def measure(args: argparse.Namespace) -> list[Row]:
    """Each side once per round, in turn (so drift hits all alike); the median round wins."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        raise SystemExit("Alertmanager is not installed (Debian package prometheus-alertmanager)")
    ends_at = (datetime.now(UTC) + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    rounds: list[list[Figure]] = [[], [], []]
    with tempfile.TemporaryDirectory(prefix="intake-am-bench-") as raw_dir:
        for number in range(args.rounds):
            directory = Path(raw_dir) / f"round-{number}"
            async with (
                scratch_database(args.db) as daemon_db,
                scratch_database(args.db) as intake_db,
            ):
                sides = _sides(directory, binary, ends_at, daemon_db, intake_db)
                for index, (side, port) in enumerate(sides):
                    log = directory / f"{index}.log"
                    rounds[index].append(await _measure(side, port, log, args))
    ours, alone, peer = (median_figure(figures) for figures in rounds)
    engine = "PostgreSQL" if args.db else "SQLite"
    load = f"{engine}, {args.batch} alerts/request, {args.concurrency} clients"
    target = ">= 1.0 of Alertmanager's own intake"
    return [
        Row(f"Alertmanager payloads, whole daemon ({load})", ours, peer, "alerts/s", target),
        Row(f"Alertmanager payloads, intake path only ({load})", alone, peer, "alerts/s", target),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=100_000, help="alerts measured per side")
    parser.add_argument("--batch", type=int, default=50, help="alerts per request")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--distinct", type=int, default=1000, help="distinct fingerprints")
    parser.add_argument("--warmup", type=int, default=100, help="requests before measuring")
    parser.add_argument("--rounds", type=int, default=3, help="the median round is reported")
    parser.add_argument(
        "--db",
        default=None,
        help="PostgreSQL admin URL (postgres://postgres@host:5432/postgres): each side of each "
        "round gets a new database, dropped afterwards; default SQLite",
    )
    args = parser.parse_args()
    rows = asyncio.run(measure(args))
    print_table(rows, title="intake-gateway vs Alertmanager: alert intake (unit: alerts/s)")


if __name__ == "__main__":
    main()
