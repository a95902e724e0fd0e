"""Retention: old raw intake, rejected samples and finished incidents are deleted.

Every ``interval_seconds`` one replica (on PostgreSQL the one that gets the
advisory lock; the lock is held by an otherwise idle transaction for the
whole run, and released by PostgreSQL if the replica dies) deletes what is
older than the configured ages, table by table, ``batch_size`` rows per
transaction with ``pause_seconds`` between batches. Before each batch it
lets queued intake commit first, so senders never wait on deletion.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter

from core.errors import StorageUnavailable
from gateway.background import background
from gateway.config.daemon import RetentionConfig
from storage import Database, Dialect, RetentionStore

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
Prune = Callable[[datetime, int], Awaitable[int]]

# Any constant unique to this program: the advisory lock key of retention.
RETENTION_LOCK = 0x1A7A_6E04
# incidents go a twentieth of a batch at a time: each takes its rows with it
_INCIDENT_SHARE = 20
# the longest a batch waits for queued intake to be committed first
_MAX_DEFER_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Step:
    """One table's deletion: what it is called in metrics, how, and how old."""

    table: str
    prune: Prune
    age: timedelta
    batch: int


class RetentionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.deleted = Counter(
            "intake_gateway_retention_deleted_total",
            "Rows deleted by retention (incidents count without their timeline and events).",
            ["table"],
            registry=registry,
        )
        self.runs = Counter(
            "intake_gateway_retention_runs_total",
            "Retention runs by outcome (done, skipped: another replica ran it, failed).",
            ["outcome"],
            registry=registry,
        )


def plan(store: RetentionStore, config: RetentionConfig) -> tuple[Step, ...]:
    """The steps the configured ages ask for; a table whose age is unset is kept."""
    batch = config.batch_size
    incident_batch = max(1, batch // _INCIDENT_SHARE)
    wanted: list[tuple[str, Prune, int | None, int]] = [
        ("intake_records", store.prune_intake, config.intake_records_days, batch),
        ("rejected_intake", store.prune_rejected, config.rejected_intake_days, batch),
        ("incidents", store.prune_incidents, config.incidents_days, incident_batch),
        ("occurrences", store.prune_occurrences, config.incidents_days, batch),
        ("events", store.prune_loose_events, config.incidents_days, batch),
    ]
    return tuple(
        Step(table, prune, timedelta(days=days), size)
        for table, prune, days, size in wanted
        if days is not None
    )


class RetentionJob:
    def __init__(
        self,
        *,
        db: Database,
        store: RetentionStore,
        config: RetentionConfig,
        registry: CollectorRegistry,
        clock: Clock,
        intake_idle: asyncio.Event | None = None,
    ) -> None:
        self._db = db
        self._store = store
        self._config = config
        self._steps = plan(store, config)
        self._metrics = RetentionMetrics(registry)
        self._clock = clock
        self._intake_idle = intake_idle

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RetentionJob]:
        async with background(self._every_interval(), "retention"):
            yield self

    async def _every_interval(self) -> None:
        if not self._steps:
            return  # everything is kept
        while True:
            await asyncio.sleep(self._config.interval_seconds)
            try:
                await self.run_once(self._clock())
            except StorageUnavailable as exc:
                self._metrics.runs.labels("failed").inc()
                log.warning("retention_storage_unavailable", error=str(exc))

    async def run_once(self, now: datetime) -> dict[str, int] | None:
        """Delete what is due at ``now``: rows deleted per table, or None when another
        replica holds the lock."""
        async with self._exclusive() as ours:
            if not ours:
                self._metrics.runs.labels("skipped").inc()
                return None
            deleted = {step.table: await self._prune(step, now - step.age) for step in self._steps}
        self._metrics.runs.labels("done").inc()
        if any(deleted.values()):
            log.info("retention_done", **deleted)
        return deleted

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[bool]:
        """On PostgreSQL, hold the retention lock for the whole run in a transaction that
        does nothing else, kept open by a task of its own: an open transaction becomes
        the connection of everything its task awaits, and the batches must commit one
        by one, outside it."""
        if self._db.dialect is Dialect.SQLITE:
            yield True  # one process per file; a held transaction would block the batches
            return
        decided: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        release = asyncio.Event()
        holder = asyncio.create_task(self._hold_lock(decided, release), name="retention-lock")
        try:
            waiting: set[asyncio.Future[Any]] = {decided, holder}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if not decided.done():
                holder.result()  # it failed before it could decide: its error
            yield decided.result()
        finally:
            release.set()
            # the run's outcome is known; the holder only ends a transaction that wrote nothing
            await asyncio.gather(holder, return_exceptions=True)

    async def _hold_lock(self, decided: asyncio.Future[bool], release: asyncio.Event) -> None:
        async with self._db.transaction() as connection:
            decided.set_result(await self._store.try_lock(connection, RETENTION_LOCK))
            await release.wait()

    async def _prune(self, step: Step, cutoff: datetime) -> int:
        total = 0
        while True:
            await self._after_intake()
            deleted = await step.prune(cutoff, step.batch)
            total += deleted
            self._metrics.deleted.labels(step.table).inc(deleted)
            if deleted < step.batch:
                return total
            await asyncio.sleep(self._config.pause_seconds)

    async def _after_intake(self) -> None:
        idle = self._intake_idle
        if idle is None or idle.is_set():
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(idle.wait(), _MAX_DEFER_SECONDS)
