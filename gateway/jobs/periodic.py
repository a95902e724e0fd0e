"""The periodic job: hold-down resolutions, auto-close and SLA escalations, and the
replay ledger's expired signatures.

Runs every ``interval`` seconds. Each run is one transaction; on PostgreSQL
a transaction-level advisory lock makes exactly one replica do the work, and
another takes over at its next run if that replica dies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import structlog

from core.errors import StorageUnavailable
from gateway.background import background
from gateway.metrics import Metrics
from rules.engine import CompiledRuleSet
from storage import Database, PeriodicStore

log = structlog.get_logger(__name__)

# Any constant unique to this program: the advisory lock key of this job.
_JOB_LOCK = 0x1A7A_6E02


class PeriodicJobs:
    def __init__(
        self,
        *,
        db: Database,
        store: PeriodicStore,
        ruleset: Callable[[], CompiledRuleSet],
        metrics: Metrics,
        clock: Callable[[], datetime],
        interval_seconds: float,
    ) -> None:
        self._db = db
        self._store = store
        self._ruleset = ruleset
        self._metrics = metrics
        self._clock = clock
        self._interval = interval_seconds

    @asynccontextmanager
    async def running(self) -> AsyncIterator[PeriodicJobs]:
        async with background(self._loop(), "periodic-jobs"):
            yield self

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once(self._clock())
            except StorageUnavailable as exc:
                log.warning("periodic_job_storage_unavailable", error=str(exc))

    async def run_once(self, now: datetime) -> int:
        """Do everything due at ``now``; return how many changes were made (0 if not ours)."""
        ruleset = self._ruleset()
        store = self._store
        changes = 0
        async with self._db.transaction() as connection:
            if not await store.try_lock(connection, _JOB_LOCK):
                return 0
            forgotten = await store.forget_signatures(connection, now)
            holding = await store.holding_down(connection)
            for incident_id in ruleset.due_resolutions(holding, now):
                reason = "recovered and stayed recovered"
                changes += await store.resolve(connection, incident_id, now, reason)
            resolved = await store.resolved(connection, now - ruleset.settings.close_after)
            for incident_id in ruleset.due_closures(resolved, now):
                changes += await store.close(connection, incident_id, now)
            for clock in await store.sla_clocks(connection):
                for escalation in ruleset.escalations(clock, now):
                    await store.escalate(connection, escalation, now)
                    self._metrics.sla_escalations.labels(escalation.clock, escalation.level).inc()
                    changes += 1
        if changes or forgotten:
            log.info("periodic_job_done", changes=changes, signatures_forgotten=forgotten)
        return changes
