"""The heartbeat job on both engines, with a fixed clock; on PostgreSQL, one replica decides."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from gateway.config.model import IntegrationConfig
from gateway.jobs.heartbeat_watch import Change
from gateway.jobs.heartbeats import HEARTBEAT_LOCK_KEY, HeartbeatMonitor
from gateway.metrics import Metrics
from rules.loader import load_ruleset
from storage.database import Database, DatabaseSettings
from storage.heartbeats import HeartbeatStore
from storage.incidents import IncidentStore
from storage.migrations import migrate
from storage.views import IncidentFilter, list_incidents
from tests.unit.test_heartbeat_watch import alert

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
PROM = IntegrationConfig.model_validate(
    {
        "name": "prom",
        "kind": "alertmanager",
        "heartbeat": {"timeout": "5m", "match": {"labels.alertname": "Watchdog"}},
    }
)


WATCHDOG = alert("Watchdog")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _open(url: str) -> Database:
    database = Database(DatabaseSettings(url=url))
    await database.open()
    await migrate(database)
    return database


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await _open(database_url)
    try:
        yield database
    finally:
        await database.close()


def _monitor(db: Database, clock: Clock, tmp_path: Path) -> HeartbeatMonitor:
    (tmp_path / "rules").mkdir(exist_ok=True)
    ruleset = load_ruleset(tmp_path / "rules", None)
    return HeartbeatMonitor(
        db=db,
        store=HeartbeatStore(db),
        incidents=IncidentStore(db),
        integrations=lambda: [PROM],
        ruleset=lambda: ruleset,
        metrics=Metrics(),
        clock=clock,
    )


async def _incidents() -> list[tuple[str, str, str]]:
    found = await list_incidents(IncidentFilter())
    return [(item["correlation_key"], item["status"], item["priority"]) for item in found]


async def test_silence_raises_once_and_the_heartbeat_resolves(db: Database, tmp_path: Path) -> None:
    clock = Clock(T0)
    monitor = _monitor(db, clock, tmp_path)
    monitor.observe(PROM, [WATCHDOG])
    assert await monitor.run_once(T0) == []

    clock.now = T0 + 6 * MINUTE
    assert await monitor.run_once(clock.now) == [("prom", Change.MISSING)]
    assert await _incidents() == [("heartbeat:prom", "new", "P2")]
    clock.now = T0 + 7 * MINUTE
    assert await monitor.run_once(clock.now) == []  # raised once, not every run

    clock.now = T0 + 8 * MINUTE
    monitor.observe(PROM, [WATCHDOG])
    assert await monitor.run_once(clock.now) == [("prom", Change.BACK)]
    assert await _incidents() == [("heartbeat:prom", "resolved", "P2")]
    [row] = (await HeartbeatStore(db).rows(db.connection, ["prom"])).values()
    assert row.last_seen == T0 + 8 * MINUTE and row.alerted_at is None


async def test_other_alerts_are_not_the_heartbeat(db: Database, tmp_path: Path) -> None:
    clock = Clock(T0)
    monitor = _monitor(db, clock, tmp_path)
    clock.now = T0 + 4 * MINUTE
    monitor.observe(PROM, [alert("HighLoad")])
    clock.now = T0 + 6 * MINUTE
    assert await monitor.run_once(clock.now) == [("prom", Change.MISSING)]


async def test_the_newest_sighting_wins_whatever_the_order_of_replicas(db: Database) -> None:
    store = HeartbeatStore(db)
    async with db.transaction() as connection:
        await store.record_seen(connection, {"prom": T0 + 5 * MINUTE})
        await store.record_seen(connection, {"prom": T0 + 3 * MINUTE})
        rows = await store.rows(connection, ["prom", "unknown"])
    assert list(rows) == ["prom"] and rows["prom"].last_seen == T0 + 5 * MINUTE


async def test_one_replica_decides_under_the_advisory_lock(
    postgres_url: str, tmp_path: Path
) -> None:
    db = await _open(postgres_url)
    try:
        first = _monitor(db, Clock(T0), tmp_path)
        second = _monitor(db, Clock(T0), tmp_path)
        late = T0 + 6 * MINUTE
        holder = await asyncpg.connect(postgres_url)
        try:
            async with holder.transaction():
                await holder.execute("SELECT pg_advisory_xact_lock($1)", HEARTBEAT_LOCK_KEY)
                assert await first.run_once(late) == []  # the other replica holds this round
            assert await _incidents() == []
        finally:
            await holder.close()
        raised = await asyncio.gather(first.run_once(late), second.run_once(late))
        assert sorted(raised, key=len) == [[], [("prom", Change.MISSING)]]
        assert await _incidents() == [("heartbeat:prom", "new", "P2")]
    finally:
        await db.close()
