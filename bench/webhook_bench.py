"""Generic webhook intake with durable commit vs a bare aiohttp handler.

Usage: python -m bench.webhook_bench [--total N] [--concurrency C] [--db URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import orjson

from bench.common import PYTHON, Row, figure, free_port, post_load, print_table, process, wait_http


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


async def measure(total: int, concurrency: int, db_url: str | None, label: str) -> Row:
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as raw_dir:
        directory = Path(raw_dir)
        port = free_port()
        config = gateway_config(directory, port, db_url)
        command = [PYTHON, "-m", "gateway.cli", "run", "--config", str(config)]
        with process(command, directory / "gateway.log") as proc:
            base = f"http://127.0.0.1:{port}"
            await wait_http(f"{base}/readyz", proc)
            await post_load(f"{base}/webhooks/generic", _alert, total=500, concurrency=concurrency)
            elapsed, latencies, errors = await post_load(
                f"{base}/webhooks/generic", _alert, total=total, concurrency=concurrency
            )
            ours = figure("intake-gateway", total, elapsed, latencies, errors, proc.pid)
        bare_port = free_port()
        with process(
            [PYTHON, "-m", "bench.bare_http", str(bare_port)], directory / "bare.log"
        ) as proc:
            base = f"http://127.0.0.1:{bare_port}"
            await wait_http(f"{base}/readyz", proc)
            await post_load(f"{base}/webhooks/generic", _alert, total=500, concurrency=concurrency)
            elapsed, latencies, errors = await post_load(
                f"{base}/webhooks/generic", _alert, total=total, concurrency=concurrency
            )
            peer = figure("bare aiohttp (no commit)", total, elapsed, latencies, errors, proc.pid)
    return Row(
        f"generic webhook intake ({label}) vs bare aiohttp",
        ours,
        peer,
        target=">= 0.40 of the bare ceiling",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--db", default=None, help="postgres:// URL; default SQLite")
    args = parser.parse_args()
    label = "PostgreSQL" if args.db else "SQLite"
    row = asyncio.run(measure(args.total, args.concurrency, args.db, label))
    print_table([row])


if __name__ == "__main__":
    main()
