"""Live updates and intake: webhook intake with no console open, then with 200
consoles each holding the server-sent events stream (/ui/stream) that every
change is announced on. Target: intake p99 with 200 consoles at most 10% above
the p99 without. Rounds alternate the two sides (a machine that speeds up or
slows down moves both alike); the median round of each side is reported.

Usage: python -m bench.console_live_bench [--consoles 200] [--alerts 2000]
       [--concurrency 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import orjson

from bench.common import PYTHON, Figure, Row, figure, median_figure, post_load
from bench.daemon import daemon, wait_processed
from bench.report import print_report
from gateway.web.passwords import hash_password

PASSWORD = "bench-password"
TARGET_RATIO = 1.10


def _alert(number: int) -> bytes:
    # every alert opens an incident: a timeline entry, announced to every console
    return orjson.dumps(
        {"name": "disk full", "resource": f"host{number}", "severity": "critical",
         "summary": f"disk full #{number}"}
    )  # fmt: skip


async def _session_cookie(base: str) -> str:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{base}/ui/login") as response:
            token = re.search(r'name="csrf" value="([^"]+)"', await response.text())
        assert token is not None
        form = {"name": "bench", "password": PASSWORD, "csrf": token.group(1)}
        async with http.post(f"{base}/ui/login", data=form, allow_redirects=False) as response:
            return response.cookies["ig_session"].value


async def _listen_all(base: str, cookie: str, count: int) -> None:
    """The consoles' side, in a process of its own (so the load generator's timing is
    not the consoles' event loop): ``count`` streams read until SIGTERM, then the
    fewest notices any of them got printed."""
    received = [0] * count
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    connector = aiohttp.TCPConnector(limit=count + 10)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def listen(index: int) -> None:
            async with http.get(
                f"{base}/ui/stream",
                headers={"Cookie": f"ig_session={cookie}"},
                allow_redirects=False,
            ) as response:
                if response.status != 200:
                    raise RuntimeError(f"a console's stream answered {response.status}")
                async for line in response.content:
                    if line.startswith(b"event: changed"):
                        received[index] += 1

        tasks = [asyncio.create_task(listen(index)) for index in range(count)]
        await stop.wait()
        failed = sum(1 for task in tasks if task.done())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(f"{min(received)} {failed}", flush=True)


@contextmanager
def _consoles(base: str, cookie: str, count: int) -> Iterator[list[int]]:
    """``count`` consoles streaming in a child process; afterwards, [fewest notices,
    streams that ended early]."""
    child = subprocess.Popen(
        [PYTHON, "-m", "bench.console_live_bench", "--listen", base, cookie, str(count)],
        stdout=subprocess.PIPE,
    )
    found: list[int] = []
    try:
        time.sleep(4)  # all connected, the feed has read the head
        yield found
    finally:
        child.send_signal(signal.SIGTERM)
        out, _ = child.communicate(timeout=30)
        found.extend(int(part) for part in out.split())


async def _intake(base: str, alerts: int, concurrency: int, pid: int, offset: int) -> Figure:
    elapsed, latencies, errors = await post_load(
        f"{base}/webhooks/generic",
        lambda number: _alert(number + offset),
        total=alerts,
        concurrency=concurrency,
    )
    await wait_processed(base, offset + alerts, 60)
    return figure("intake-gateway", alerts, elapsed, latencies, errors, pid)


async def measure(consoles: int, alerts: int, concurrency: int, rounds: int) -> list[Row]:
    people = [{"name": "bench", "role": "viewer", "password_hash": hash_password(PASSWORD)}]
    quiet: list[Figure] = []
    watched: list[Figure] = []
    notices = 0
    with (
        tempfile.TemporaryDirectory(prefix="intake-live-bench-") as raw,
        daemon(Path(raw), None, console={"people": people}) as running,
    ):
        await running.ready()
        cookie = await _session_cookie(running.base)
        sent = 0
        await _intake(running.base, 200, concurrency, running.pid, sent)  # warm up
        sent += 200
        for _ in range(rounds):
            quiet.append(await _intake(running.base, alerts, concurrency, running.pid, sent))
            sent += alerts
            with _consoles(running.base, cookie, consoles) as outcome:
                watched.append(await _intake(running.base, alerts, concurrency, running.pid, sent))
                sent += alerts
                await asyncio.sleep(3)  # the last changes announced
            notices, ended = outcome
            if ended:
                raise RuntimeError(f"{ended} of {consoles} consoles did not stay connected")
    without, with_consoles = median_figure(quiet), median_figure(watched)
    ratio = with_consoles.p99_ms / without.p99_ms if without.p99_ms else 0.0
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    target = f"p99 at most +10%: {ratio:.2f}x, {verdict}; each console got >= {notices} notices"
    return [
        Row(f"webhook intake, no console ({alerts} alerts)", without, None, "req/s", ""),
        Row(
            f"webhook intake, {consoles} consoles streaming ({alerts} alerts)",
            with_consoles,
            None,
            "req/s",
            target,
        ),
    ]


def main() -> None:
    if sys.argv[1:2] == ["--listen"]:
        base, cookie, count = sys.argv[2:5]
        asyncio.run(_listen_all(base, cookie, int(count)))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--consoles", type=int, default=200)
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = asyncio.run(measure(args.consoles, args.alerts, args.concurrency, args.rounds))
    print_report(list(rows), "Live updates: intake with consoles streaming")


if __name__ == "__main__":
    main()
