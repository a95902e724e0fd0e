"""Generic webhook intake with durable commit vs a bare aiohttp handler.

Usage: python -m bench.webhook_bench [--total N] [--concurrency C] [--db URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import orjson

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


def _alert(number: int) -> bytes:
    return orjson.dumps(
        {
            "name": f"check-{number % 1000}",
            "resource": f"host-{number % 50}",
            "severity": "high",
            "status": "firing",
            "summary": f"benchmark alert {number}",
            "labels": {"team": "ops", "env": "prod", "seq": str(number)},
        }
    )


def gateway_config(directory: Path, port: int, db_url: str | None) -> Path:
    document = {
        "storage": {"url": db_url or f"sqlite://{directory}/bench.sqlite3"},
        "http": {"listen": f"127.0.0.1:{port}"},
        "integrations": [{"name": "generic", "kind": "generic", "dedup_window_seconds": 0}],
        "rules": {"dir": str(directory / "rules"), "catalogue": None},
        "logging": {"level": "warning", "format": "json"},
    }
    (directory / "rules").mkdir(exist_ok=True)
    path = directory / "gateway.yaml"
    path.write_bytes(orjson.dumps(document))
    return path


async def _side(
    name: str, command: list[str], log: Path, port: int, total: int, concurrency: int
) -> Figure:
    """Start a server, warm it up, then post ``total`` alerts; its figure."""
    with process(command, log) as proc:
        base = f"http://127.0.0.1:{port}"
        await wait_http(f"{base}/readyz", proc)
        await post_load(f"{base}/webhooks/generic", _alert, total=500, concurrency=concurrency)
        elapsed, latencies, errors = await post_load(
            f"{base}/webhooks/generic", _alert, total=total, concurrency=concurrency
        )
        return figure(name, total, elapsed, latencies, errors, proc.pid)


async def measure(
    total: int, concurrency: int, db_url: str | None, label: str, rounds: int = 3
) -> Row:
    """Each side once per round, in turn; the median round of each side is reported."""
    ours: list[Figure] = []
    bare: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as raw_dir:
        for number in range(rounds):
            directory = Path(raw_dir) / f"round-{number}"
            directory.mkdir()
            port, bare_port = free_port(), free_port()
            config = gateway_config(directory, port, db_url)
            daemon = [PYTHON, "-m", "gateway.cli", "run", "--config", str(config)]
            ceiling = [PYTHON, "-m", "bench.bare_http", str(bare_port)]
            log, bare_log = directory / "gateway.log", directory / "bare.log"
            ours.append(await _side("intake-gateway", daemon, log, port, total, concurrency))
            bare.append(
                await _side(
                    "bare aiohttp (no commit)", ceiling, bare_log, bare_port, total, concurrency
                )
            )
    return Row(
        f"generic webhook intake ({label}) vs bare aiohttp",
        median_figure(ours),
        median_figure(bare),
        target=">= 0.40 of the bare ceiling",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--db", default=None, help="postgres:// URL; default SQLite")
    parser.add_argument("--rounds", type=int, default=3, help="the median round is reported")
    args = parser.parse_args()
    label = "PostgreSQL" if args.db else "SQLite"
    row = asyncio.run(measure(args.total, args.concurrency, args.db, label, args.rounds))
    print_table([row])


if __name__ == "__main__":
    main()
