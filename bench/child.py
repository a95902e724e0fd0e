"""Scenarios measured inside their own process, so that their peak RSS is theirs alone.

The child runs ``python -m MODULE ARGS...`` and prints its figure as the
last line of its output (``emit``); the parent reads it back (``run``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os

import orjson

from bench.common import PYTHON, REPO, Figure, peak_rss_mb


def emit(figure: Figure) -> None:
    """Print the figure, with this process's peak RSS, as the last line of output."""
    measured = dataclasses.replace(figure, peak_rss_mb=peak_rss_mb(os.getpid()))
    print(orjson.dumps(dataclasses.asdict(measured)).decode(), flush=True)


async def run(module: str, *args: str) -> Figure:
    child = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        module,
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await child.communicate()
    if child.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"{module} failed ({child.returncode}): {' | '.join(tail)}")
    last = out.decode().strip().splitlines()[-1]
    return Figure(**orjson.loads(last))
