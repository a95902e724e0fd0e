"""Shared benchmark plumbing: processes, HTTP load, latency figures, the result table.

Every figure is measured in the same run on the same machine as its peer,
with the same load generator, so the ratio is fair even where the absolute
numbers depend on the machine.
"""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Figure:
    """Throughput and acknowledgement latency of one side of a scenario."""

    name: str
    per_second: float
    p50_ms: float
    p99_ms: float
    peak_rss_mb: float
    requests: int
    errors: int


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    ours: Figure
    peer: Figure | None
    unit: str = "req/s"
    target: str = ""

    @property
    def ratio(self) -> float | None:
        if self.peer is None or self.peer.per_second == 0:
            return None
        return self.ours.per_second / self.peer.per_second


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()} {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident set size."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextmanager
def process(
    command: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(command),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, **(env or {})},
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def wait_http(url: str, proc: subprocess.Popen[bytes], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
            try:
                async with http.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {within}s")


async def post_load(
    url: str,
    bodies: Callable[[int], bytes],
    *,
    total: int,
    concurrency: int,
    headers: dict[str, str] | None = None,
    ok: tuple[int, ...] = (200, 202),
) -> tuple[float, list[float], int]:
    """POST ``total`` bodies with ``concurrency`` clients; (seconds, latencies, errors)."""
    counter = iter(range(total))
    latencies: list[float] = []
    errors = 0
    send_headers = {"Content-Type": "application/json", **(headers or {})}
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal errors
        for number in counter:
            body = bodies(number)
            started = time.perf_counter()
            async with http.post(url, data=body, headers=send_headers) as response:
                await response.read()
                if response.status not in ok:
                    errors += 1
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession(connector=connector) as http:
        began = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return elapsed, latencies, errors


def figure(
    name: str, units: int, elapsed: float, latencies: list[float], errors: int, pid: int
) -> Figure:
    ordered = sorted(latencies) or [0.0]
    return Figure(
        name=name,
        per_second=units / elapsed if elapsed else 0.0,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        peak_rss_mb=peak_rss_mb(pid),
        requests=len(latencies),
        errors=errors,
    )


def median_figure(figures: Sequence[Figure]) -> Figure:
    """The round with the median throughput (rounds alternate the sides, so a machine
    that speeds up or slows down during the run moves both sides alike)."""
    return sorted(figures, key=lambda item: item.per_second)[len(figures) // 2]


def print_table(rows: Sequence[Row], title: str = "intake-gateway benchmarks") -> None:
    print(f"\n{title}\nmachine: {machine()}\n")
    header = (
        f"{'scenario':<44} {'ours':>12} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>7} "
        f"{'peer':>12} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}  target"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        peer = row.peer
        peer_text = (
            f"{peer.per_second:>12.0f} {peer.p50_ms:>8.2f} {peer.p99_ms:>8.2f}"
            if peer
            else f"{'-':>12} {'-':>8} {'-':>8}"
        )
        ratio = f"{row.ratio:>6.2f}" if row.ratio is not None else f"{'-':>6}"
        ours = row.ours
        print(
            f"{row.scenario:<44} {ours.per_second:>12.0f} {ours.p50_ms:>8.2f} "
            f"{ours.p99_ms:>8.2f} {ours.peak_rss_mb:>7.0f} {peer_text} {ratio}  {row.target}"
        )
        for side in (ours, peer):
            if side is not None and side.errors:
                print(f"    {side.name}: {side.errors} of {side.requests} requests failed")
    print()


def write_json(path: Path, rows: Sequence[Row]) -> None:
    path.write_bytes(
        orjson.dumps(
            {
                "machine": machine(),
                "rows": [
                    {
                        "scenario": r.scenario,
                        "ours": _fig(r.ours),
                        "peer": _fig(r.peer) if r.peer else None,
                        "ratio": r.ratio,
                        "target": r.target,
                    }
                    for r in rows
                ],
            },
            option=orjson.OPT_INDENT_2,
        )
    )


def _fig(value: Figure) -> dict[str, float | int | str]:
    return {
        "name": value.name,
        "per_second": value.per_second,
        "p50_ms": value.p50_ms,
        "p99_ms": value.p99_ms,
        "peak_rss_mb": value.peak_rss_mb,
        "requests": value.requests,
        "errors": value.errors,
    }


PYTHON = sys.executable
