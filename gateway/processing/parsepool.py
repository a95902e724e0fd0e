"""Parsing in worker processes that run at a lower CPU priority.

Mail parsing is pure and CPU-heavy: the standard library's email package
takes about 1.5 ms for a plain 4 KB message. On the event loop that time
would be taken from acknowledging senders, and in one process it can never
use a second core. The pipeline therefore hands mail records (and any large
record) to a small pool of worker processes. They run with a higher nice
value, so when the machine is busy the kernel gives the daemon's own process
(SMTP sessions, webhooks, commits) the CPU first and parsing catches up as
soon as there is room; on a machine with idle cores they parse in parallel.

Parsers are immutable and picklable; each task carries its parser, so a
reload needs nothing from the workers. A ParseError comes back as a value
(its two-argument constructor does not survive pickling as an exception).
If a worker dies, the pool is replaced and the record is parsed in a thread
instead, so one record cannot stop the others.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

import structlog

from core.errors import ParseError
from core.records import Event, IntakeRecord
from parsers.base import Parser

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Failed:
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class _Crashed:
    text: str


class ParserCrashed(Exception):
    """A parser raised something other than ParseError in a worker (its repr is the message)."""


Outcome = list[Event] | ParseError | ParserCrashed


# how often a worker looks whether the daemon that started it is still there
_PARENT_CHECK_SECONDS = 1.0


def _start_worker(niceness: int, daemon_pid: int) -> None:
    """Worker initializer: step back from the CPU (a no-op where not permitted), and
    end with the daemon."""
    with suppress(OSError):
        os.nice(niceness)
    threading.Thread(
        target=_exit_without, args=(daemon_pid,), name="daemon-watch", daemon=True
    ).start()


def _exit_without(daemon_pid: int) -> None:
    """End the worker once its daemon is gone. A daemon killed outright (SIGKILL, the
    OOM killer) cannot stop its workers, and they would wait for work forever: the
    queue they read is still open, held by the workers themselves."""
    while os.getppid() == daemon_pid:
        time.sleep(_PARENT_CHECK_SECONDS)
    os._exit(0)


def _parse_slice(
    items: list[tuple[Parser, IntakeRecord]],
) -> list[list[Event] | _Failed | _Crashed]:
    results: list[list[Event] | _Failed | _Crashed] = []
    for parser, record in items:
        try:
            results.append(parser.parse(record))
        except ParseError as exc:
            results.append(_Failed(exc.reason, str(exc)))
        except Exception as exc:  # noqa: BLE001 - one bad record must not sink its slice
            results.append(_Crashed(repr(exc)))
    return results


def _outcome(result: list[Event] | _Failed | _Crashed) -> Outcome:
    if isinstance(result, _Failed):
        return ParseError(result.reason, result.message)
    if isinstance(result, _Crashed):
        return ParserCrashed(result.text)
    return result


def default_workers() -> int:
    """One worker per core beyond the first, and at least one."""
    return max(1, (os.cpu_count() or 1) - 1)


class ParsePool:
    """Use ``running()`` around the pool's life; ``parse_many`` inside it."""

    def __init__(self, workers: int, niceness: int) -> None:
        self._workers = workers
        self._niceness = niceness
        self._executor: ProcessPoolExecutor | None = None
        self._running = False

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: the daemon has threads (SQLite, resolvers) a fork would copy
        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self._niceness, os.getpid()),
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ParsePool]:
        self._running = True
        try:
            yield self
        finally:
            self._running = False
            executor, self._executor = self._executor, None
            if executor is not None:
                # cancel what waits; a worker mid-parse is not waited for
                executor.shutdown(wait=False, cancel_futures=True)

    def _current(self) -> ProcessPoolExecutor:
        """The pool, started at the first mail: a daemon that gets none runs no workers."""
        if not self._running:
            raise RuntimeError("the parse pool is not running")
        if self._executor is None:
            self._executor = self._start()
        return self._executor

    async def parse_many(self, items: list[tuple[Parser, IntakeRecord]]) -> list[Outcome]:
        """Each record's events or its error, in order. One task per worker: a task
        costs a round trip between processes, a record in a task costs only its bytes."""
        count = min(self._workers, len(items))
        slices = [items[index::count] for index in range(count)]
        done = await asyncio.gather(*(self._run(part) for part in slices))
        outcomes: list[Outcome | None] = [None] * len(items)
        for index, results in enumerate(done):
            outcomes[index::count] = [_outcome(result) for result in results]
        return [outcome for outcome in outcomes if outcome is not None]

    async def _run(
        self, items: list[tuple[Parser, IntakeRecord]]
    ) -> list[list[Event] | _Failed | _Crashed]:
        executor = self._current()
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, _parse_slice, items)
        except BrokenProcessPool:
            log.warning("parse_worker_died", records=[record.id for _, record in items])
            if self._executor is executor:  # the first to notice replaces the pool
                self._executor = self._start()
                executor.shutdown(wait=False, cancel_futures=True)
            return await asyncio.to_thread(_parse_slice, items)
