"""The periodic job between two replicas on PostgreSQL: one at a time, and takeover.

The job's lock is a transaction-level advisory lock. A replica that dies
mid-run loses its session; PostgreSQL rolls its transaction back, which
releases the lock, and the other replica's next run does the work, once.
Killing the session of the run with ``pg_terminate_backend`` is exactly
what PostgreSQL sees when the process holding it dies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from core.errors import StorageUnavailable
from core.records import EventStatus
from gateway.jobs.periodic import PeriodicJobs
from gateway.metrics import Metrics
from rules.decision import IncidentState
from rules.engine import CompiledRuleSet
from rules.loader import load_ruleset
from storage import models
from storage.atomic import QueryRunner
from storage.database import Database, DatabaseSettings
from storage.incidents import IncidentStore
from storage.migrations import migrate
from storage.periodic import PeriodicStore
from tests.conftest import PG_ADMIN_URL
from tests.integration.test_periodic import RULES, T0, _feed

pytestmark = pytest.mark.postgres

DUE = T0 + timedelta(minutes=10)  # past the five-minute hold-down


class HeldOpen(PeriodicStore):
    """A replica whose run stops inside its transaction, lock held, until let go."""

    def __init__(self, incidents: IncidentStore) -> None:
        super().__init__(incidents)
        self.inside = asyncio.Event()
        self.let_go = asyncio.Event()
        self.backend_pid = 0

    async def holding_down(self, connection: QueryRunner) -> list[IncidentState]:
        rows = await connection.execute_query_dict("SELECT pg_backend_pid() AS pid")
        self.backend_pid = int(rows[0]["pid"])
        self.inside.set()
        await self.let_go.wait()
        return await super().holding_down(connection)


def _replica(db: Database, store: PeriodicStore, ruleset: CompiledRuleSet) -> PeriodicJobs:
    return PeriodicJobs(
        db=db,
        store=store,
        ruleset=lambda: ruleset,
        metrics=Metrics(),
        clock=lambda: DUE,
        interval_seconds=3600,
    )


@pytest.fixture
async def incident_in_hold_down(
    postgres_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Database, CompiledRuleSet]]:
    """An incident whose event recovered at T0+1m: due to be resolved at DUE."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "00.yaml").write_text(RULES)
    ruleset = load_ruleset(rules, None)
    db = Database(DatabaseSettings(url=postgres_url, pool_size=4))
    await db.open()
    await migrate(db)
    await _feed(db, ruleset, EventStatus.FIRING, T0)
    await _feed(db, ruleset, EventStatus.RESOLVED, T0 + timedelta(minutes=1))
    try:
        yield db, ruleset
    finally:
        await db.close()


async def _resolutions() -> tuple[str, int, int]:
    incident = await models.Incident.all().get()
    notes = await models.TimelineEntry.filter(incident_id=incident.id, kind="resolved").count()
    forwarded = await models.OutboxRow.filter(incident_id=incident.id, action="resolve").count()
    return incident.status, notes, forwarded


async def _terminate(pid: int) -> None:
    admin = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_second_replica_skips_while_first_runs_then_takes_over_when_it_dies(
    incident_in_hold_down: tuple[Database, CompiledRuleSet],
) -> None:
    db, ruleset = incident_in_hold_down
    first_store = HeldOpen(IncidentStore(db))
    first = _replica(db, first_store, ruleset)
    second = _replica(db, PeriodicStore(IncidentStore(db)), ruleset)

    running = asyncio.create_task(first.run_once(DUE))
    await asyncio.wait_for(first_store.inside.wait(), 10)
    # the first holds the lock in its open transaction: the second does nothing
    for _ in range(3):
        assert await second.run_once(DUE) == 0
    assert await _resolutions() == ("new", 0, 0)

    # the first replica dies mid-run: its session ends, its transaction is rolled back
    await _terminate(first_store.backend_pid)
    first_store.let_go.set()
    with pytest.raises(StorageUnavailable):
        await running
    assert await _resolutions() == ("new", 0, 0)

    assert await second.run_once(DUE) == 1
    assert await _resolutions() == ("resolved", 1, 1)
    assert await second.run_once(DUE + timedelta(minutes=1)) == 0  # done once


async def test_runs_of_two_replicas_never_overlap(
    incident_in_hold_down: tuple[Database, CompiledRuleSet],
) -> None:
    """Many runs from two replicas at once: each either holds the lock alone or skips."""
    db, ruleset = incident_in_hold_down
    stores = [HeldOpen(IncidentStore(db)), HeldOpen(IncidentStore(db))]
    replicas = [_replica(db, store, ruleset) for store in stores]
    for round_number in range(5):
        for store in stores:
            store.inside.clear()
            store.let_go.clear()
        runs = [asyncio.create_task(replica.run_once(DUE)) for replica in replicas]
        entered = [asyncio.create_task(store.inside.wait()) for store in stores]
        done, waiting = await asyncio.wait(entered, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        assert len(done) == 1, f"round {round_number}: no replica got the lock"
        await asyncio.sleep(0.3)  # the other had time to try, and skipped
        assert sum(store.inside.is_set() for store in stores) == 1
        for store in stores:
            store.let_go.set()
        for task in waiting:
            task.cancel()
        results = await asyncio.gather(*runs)
        # the first round resolves the incident; later rounds find nothing due
        assert sorted(results) == [0, 1 if round_number == 0 else 0]
    assert await _resolutions() == ("resolved", 1, 1)
