"""Alerta (the ``alerta-server`` package) as a peer for alert intake, on the local PostgreSQL.

Alerta is not a dependency of this project: it lives in its own virtualenv
under /tmp (``$INTAKE_BENCH_ALERTA_VENV``), created on first use with pip.
It runs the way its documentation deploys it, a WSGI app under gunicorn
with ``2 x cores + 1`` sync workers, with authentication off. Like the
gateway it de-duplicates and correlates alerts, but in the request itself:
its answer comes after the alert is stored and de-duplicated.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench import pg
from bench.common import Figure, figure, free_port, post_load, process, wait_http
from bench.rss import tree_peak_rss_mb

VENV = Path(os.environ.get("INTAKE_BENCH_ALERTA_VENV", "/tmp/intake-bench-alerta"))
PACKAGES = ("alerta-server", "gunicorn", "psycopg2-binary")
_INSTALL_SECONDS = 900
# gunicorn's sync workers close every connection after the answer; a client
# that reused one would see resets, so each request asks for a new one
HEADERS = {"Connection": "close"}


def _works(venv: Path) -> bool:
    probe = [str(venv / "bin" / "python"), "-c", "import alerta.app, gunicorn, psycopg2"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def ensure() -> Path | str:
    """The virtualenv with Alerta in it (made if missing), or why there is none."""
    if _works(VENV):
        return VENV
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(VENV)],
        [str(VENV / "bin" / "pip"), "install", "--quiet", *PACKAGES],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=_INSTALL_SECONDS)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"Alerta could not be installed ({' '.join(step[:3])}): {exc}"
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return f"Alerta could not be installed: {reason}"
    return VENV if _works(VENV) else "Alerta installed but does not import"


def workers() -> int:
    return 2 * (os.cpu_count() or 1) + 1


def command(venv: Path, port: int) -> list[str]:
    return [
        str(venv / "bin" / "gunicorn"),
        "--workers",
        str(workers()),
        "--preload",  # the app (and its schema) is set up once, before the workers fork
        "--bind",
        f"127.0.0.1:{port}",
        "alerta.app:create_app()",
    ]


def environment(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "AUTH_REQUIRED": "False",
        "LOG_LEVEL": "ERROR",
    }


def alert_body(number: int, fingerprints: int) -> bytes:
    """One alert for ``POST /alert``: the same identity every ``fingerprints`` alerts."""
    index = number % fingerprints
    return orjson.dumps(
        {
            "resource": f"host-{index % 50}",
            "event": f"check-{index}",
            "environment": "Production",
            "service": ["web"],
            "severity": "major",
            "text": f"benchmark alert {number}",
            "value": str(number),
        }
    )


@dataclass(frozen=True, slots=True)
class AlertaServer:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def ready(self) -> None:
        await wait_http(f"{self.base}/management/healthcheck", self.proc, within=60)

    def peak_rss_mb(self) -> float:
        """gunicorn's master and all its workers."""
        return tree_peak_rss_mb(self.proc.pid)


@contextmanager
def server(venv: Path, database_url: str, log: Path) -> Iterator[AlertaServer]:
    port = free_port()
    with process(command(venv, port), log, environment(database_url)) as proc:
        yield AlertaServer(proc, port)


async def measure(
    venv: Path,
    log: Path,
    path: str,
    bodies: Callable[[int], bytes],
    *,
    requests: int,
    units: int,
    concurrency: int,
    warm_up: int = 0,
) -> Figure:
    """Alerta on a fresh database taking ``requests`` POSTs to ``path`` (``units`` alerts
    in all); peak RSS is that of its master and workers together."""
    async with pg.scratch_database("alerta_bench") as url:
        with server(venv, url, log) as alerta:
            await alerta.ready()
            endpoint = f"{alerta.base}{path}"
            if warm_up:
                await post_load(
                    endpoint,
                    lambda n: bodies(-n - 1),
                    total=warm_up,
                    concurrency=concurrency,
                    headers=HEADERS,
                    ok=(201,),
                )
            elapsed, latencies, errors = await post_load(
                endpoint,
                bodies,
                total=requests,
                concurrency=concurrency,
                headers=HEADERS,
                ok=(201,),
            )
            name = f"Alerta ({workers()} gunicorn workers)"
            measured = figure(name, units, elapsed, latencies, errors, alerta.proc.pid)
            return dataclasses.replace(measured, peak_rss_mb=alerta.peak_rss_mb())
