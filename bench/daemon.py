"""The gateway daemon as a benchmark process: its config, start, readiness, metrics.

Every scenario that measures the whole daemon starts it this way: a real
``intake-gateway run`` process on the given database with a ``generic`` and
an ``alertmanager`` integration (no dedup window, so no two bodies are
folded at the edge), no rules beyond the defaults, logging at warning.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

from bench.common import PYTHON, free_port, process, wait_http

PROCESSED = "intake_gateway_records_processed_total"
_POLL_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class Daemon:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def ready(self) -> None:
        await wait_http(f"{self.base}/readyz", self.proc, within=60)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def generic(self) -> str:
        return f"{self.base}/webhooks/generic"

    @property
    def alertmanager(self) -> str:
        return f"{self.base}/webhooks/alertmanager"


def config(directory: Path, port: int, db_url: str | None, **sections: Any) -> Path:
    document: dict[str, Any] = {
        "storage": {"url": db_url or f"sqlite://{directory}/bench.sqlite3"},
        "http": {"listen": f"127.0.0.1:{port}"},
        "integrations": [
            {"name": "generic", "kind": "generic", "dedup_window_seconds": 0},
            {"name": "alertmanager", "kind": "alertmanager", "dedup_window_seconds": 0},
        ],
        "rules": {"dir": str(directory / "rules"), "catalogue": None},
        "logging": {"level": "warning", "format": "json"},
        **sections,
    }
    (directory / "rules").mkdir(parents=True, exist_ok=True)
    path = directory / f"gateway-{port}.yaml"
    path.write_bytes(orjson.dumps(document))
    return path


@contextmanager
def daemon(directory: Path, db_url: str | None, **sections: Any) -> Iterator[Daemon]:
    """A daemon process for the block; stopped with SIGTERM (then kill) at the end."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    path = config(directory, port, db_url, **sections)
    command = [PYTHON, "-m", "gateway.cli", "run", "--config", str(path)]
    with process(command, directory / f"gateway-{port}.log") as proc:
        yield Daemon(proc, port)


async def metric_sum(base: str, name: str) -> float:
    """The sum of a metric's samples over all its labels (counters: the ``_total`` sample)."""
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as response:
        text = await response.text()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                total += sample.value
    return total


async def wait_processed(base: str, records: int, limit_seconds: float) -> float:
    """Poll until the pipeline has processed ``records`` intake records (or time is up);
    the number processed."""
    deadline = time.monotonic() + limit_seconds
    done = await metric_sum(base, PROCESSED)
    while done < records and time.monotonic() < deadline:
        await asyncio.sleep(_POLL_SECONDS)
        done = await metric_sum(base, PROCESSED)
    return done
