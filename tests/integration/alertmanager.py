"""A real Prometheus Alertmanager for tests: on loopback, a free port, throwaway storage.

It runs without clustering (``--cluster.listen-address=``), with a config
whose webhook receiver points at the daemon under test. Alerts are posted to
its own API (``POST /api/v2/alerts``), exactly as Prometheus does.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from tests.conftest import require

BINARIES = ("prometheus-alertmanager", "alertmanager")


def alertmanager_binary() -> str:
    """The binary's path; skips locally, fails in CI, when it is not installed."""
    found = next((path for name in BINARIES if (path := shutil.which(name))), None)
    require("Alertmanager (Debian package prometheus-alertmanager)", found is not None)
    assert found is not None
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def postable_alert(
    labels: Mapping[str, str], starts_at: datetime, ends_at: datetime, summary: str = ""
) -> dict[str, Any]:
    """One alert as Prometheus posts it to /api/v2/alerts."""
    return {
        "labels": dict(labels),
        "annotations": {"summary": summary or labels.get("alertname", "")},
        "startsAt": rfc3339(starts_at),
        "endsAt": rfc3339(ends_at),
        "generatorURL": "http://prometheus.test:9090/graph",
    }


def webhook_route(
    webhook_url: str,
    *,
    group_by: Sequence[str],
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "4h",
) -> dict[str, Any]:
    """A config with one webhook receiver that also sends resolved notifications."""
    return {
        "route": {
            "receiver": "intake-gateway",
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [
            {
                "name": "intake-gateway",
                "webhook_configs": [{"url": webhook_url, "send_resolved": True}],
            }
        ],
    }


@dataclass
class Alertmanager:
    url: str
    http: aiohttp.ClientSession
    process: asyncio.subprocess.Process

    async def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        async with self.http.post(
            f"{self.url}/api/v2/alerts",
            data=orjson.dumps(list(alerts)),
            headers={"Content-Type": "application/json"},
        ) as response:
            assert response.status == 200, await response.text()

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


@asynccontextmanager
async def running_alertmanager(
    config: Mapping[str, Any], directory: Path, *, within: float = 20.0
) -> AsyncIterator[Alertmanager]:
    binary = alertmanager_binary()
    config_file = _write_config(directory, config)
    port = free_port()
    log_file = directory / "alertmanager.log"
    with log_file.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={config_file}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        manager = Alertmanager(url, http, process)
        try:
            await _ready(manager, log_file, within)
            yield manager
        finally:
            await manager.stop()


async def _ready(manager: Alertmanager, log_file: Path, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if manager.process.returncode is not None:
            raise AssertionError(f"Alertmanager exited:\n{_tail(log_file)}")
        try:
            async with manager.http.get(f"{manager.url}/-/ready") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"Alertmanager not ready within {within}s:\n{_tail(log_file)}")


def _write_config(directory: Path, config: Mapping[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "alertmanager.yml"
    path.write_bytes(orjson.dumps(dict(config)))  # JSON is YAML
    return path


def _tail(log_file: Path) -> str:
    return log_file.read_text(errors="replace")[-2000:]
