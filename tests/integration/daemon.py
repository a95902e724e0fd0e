"""Running the daemon inside the test process, on real sockets and a real database."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from gateway.app import Services, build
from gateway.config.model import LoadedConfig


@dataclass
class RunningDaemon:
    services: Services
    http: aiohttp.ClientSession
    base_url: str

    async def post_json(
        self, path: str, body: Any, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        async with self.http.post(path, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def get_json(self, path: str) -> tuple[int, Any]:
        async with self.http.get(path) as response:
            return response.status, await response.json()

    async def incidents(self, query: str = "") -> list[dict[str, Any]]:
        status, body = await self.get_json(f"/api/v1/incidents{query}")
        assert status == 200, body
        items: list[dict[str, Any]] = body["items"]
        return items


@asynccontextmanager
async def running_daemon(loaded: LoadedConfig) -> AsyncIterator[RunningDaemon]:
    services = build(loaded)
    async with services.started():
        port = services.http_bound[0].rsplit(":", 1)[1]
        base_url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(base_url=base_url) as http:
            yield RunningDaemon(services, http, base_url)


T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    within: float = 10.0,
) -> T:
    """Poll ``probe`` until ``accept`` holds; fail with the last value seen."""
    deadline = time.monotonic() + within
    value = await probe()
    while not accept(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s; last value: {value!r}")
        await asyncio.sleep(0.05)
        value = await probe()
    return value


@contextmanager
def process_running(
    command: list[str], *, cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A daemon as a child process, its output appended to ``log``; killed if still alive."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=out, cwd=cwd)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


async def wait_ready(
    base_url: str, process: subprocess.Popen[bytes], within: float = 30, name: str = "daemon"
) -> None:
    """Wait until a daemon process answers /readyz with 200; fail if it exits."""

    async def probe() -> int:
        if process.poll() is not None:
            raise AssertionError(f"{name} exited with {process.returncode}")
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{base_url}/readyz") as response,
            ):
                return response.status
        except aiohttp.ClientConnectionError:
            return 0

    await eventually(probe, lambda status: status == 200, within=within)
