"""The periodic job on both engines: hold-down resolution, auto-close, SLA escalation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.records import Event, EventStatus, Severity
from gateway.jobs.periodic import PeriodicJobs
from gateway.metrics import Metrics
from rules.engine import CompiledRuleSet
from rules.loader import load_ruleset
from storage import models
from storage.database import Database, DatabaseSettings
from storage.incident_state import active_silences
from storage.incidents import IncidentStore
from storage.migrations import migrate
from storage.periodic import PeriodicStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

RULES = """
settings:
  auto_resolve: true
  resolve_hold_down: 5m
  close_after: 1d
  default_routes: [ops]
priority_matrix:
  1: [P1, P1, P2, P3]
  2: [P1, P2, P3, P3]
  3: [P2, P3, P3, P4]
  4: [P3, P3, P4, P4]
sla:
  near_breach: 0.5
  targets:
    - {priority: P2, calendar: 24x7, response: 30m, resolution: 8h}
  on_near_breach: {routes: [ops]}
  on_breach: {routes: [ops], raise_priority: P1}
rules:
  - name: everything-p2
    description: every alert is P2 in this test
    match: {kind: generic}
    set: {impact: 2, urgency: 2}
"""


@pytest.fixture
async def setup(
    database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Database, CompiledRuleSet, PeriodicJobs]]:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "00.yaml").write_text(RULES)
    ruleset = load_ruleset(rules, None)
    db = Database(DatabaseSettings(url=database_url))
    await db.open()
    await migrate(db)
    jobs = PeriodicJobs(
        db=db,
        store=PeriodicStore(IncidentStore(db)),
        ruleset=lambda: ruleset,
        metrics=Metrics(),
        clock=lambda: T0,
        interval_seconds=60,
    )
    try:
        yield db, ruleset, jobs
    finally:
        await db.close()


async def _feed(db: Database, ruleset: CompiledRuleSet, status: EventStatus, now: datetime) -> None:
    event = Event(
        source="generic",
        kind="generic",
        name="disk",
        resource="db1",
        severity=Severity.HIGH,
        status=status,
        summary="disk full",
        occurred_at=now,
    )
    store = IncidentStore(db)
    async with db.transaction() as connection:
        lookup = ruleset.lookup(event, now)
        state = await store.load_state(
            connection, lookup, await active_silences(connection, store.sql, now)
        )
        decision = ruleset.evaluate(event, state, now)
        await store.apply(connection, event, decision, state, None, now)


async def _incident() -> models.Incident:
    return await models.Incident.all().get()


async def test_hold_down_then_close(
    setup: tuple[Database, CompiledRuleSet, PeriodicJobs],
) -> None:
    db, ruleset, jobs = setup
    await _feed(db, ruleset, EventStatus.FIRING, T0)
    await _feed(db, ruleset, EventStatus.RESOLVED, T0 + timedelta(minutes=1))
    incident = await _incident()
    assert incident.status == "new" and incident.resolve_after is not None
    assert await jobs.run_once(T0 + timedelta(minutes=3)) == 0  # hold-down not over
    assert await jobs.run_once(T0 + timedelta(minutes=7)) >= 1
    incident = await _incident()
    assert incident.status == "resolved" and incident.open_key is None
    assert await jobs.run_once(T0 + timedelta(hours=12)) == 0  # not yet a day
    await jobs.run_once(T0 + timedelta(days=1, minutes=10))
    incident = await _incident()
    assert incident.status == "closed" and incident.closed_at is not None
    kinds = [
        t.kind for t in await models.TimelineEntry.filter(incident_id=incident.id).order_by("id")
    ]
    assert kinds[-2:] == ["resolved", "closed"]
    actions = [row.action for row in await models.OutboxRow.all().order_by("id")]
    assert actions == ["create", "resolve", "close"]


async def test_a_repeat_during_hold_down_keeps_the_incident_open(
    setup: tuple[Database, CompiledRuleSet, PeriodicJobs],
) -> None:
    db, ruleset, jobs = setup
    await _feed(db, ruleset, EventStatus.FIRING, T0)
    await _feed(db, ruleset, EventStatus.RESOLVED, T0 + timedelta(minutes=1))
    await _feed(db, ruleset, EventStatus.FIRING, T0 + timedelta(minutes=2))
    await jobs.run_once(T0 + timedelta(minutes=10))
    incident = await _incident()
    assert incident.status == "new" and incident.resolve_after is None


async def test_sla_near_breach_and_breach_escalate_once(
    setup: tuple[Database, CompiledRuleSet, PeriodicJobs],
) -> None:
    db, ruleset, jobs = setup
    await _feed(db, ruleset, EventStatus.FIRING, T0)
    incident = await _incident()
    assert incident.priority == "P2" and incident.response_due is not None
    assert await jobs.run_once(T0 + timedelta(minutes=10)) == 0
    assert await jobs.run_once(T0 + timedelta(minutes=20)) == 1  # response near breach
    assert await jobs.run_once(T0 + timedelta(minutes=21)) == 0  # not twice
    await jobs.run_once(T0 + timedelta(minutes=31))  # response breached
    incident = await _incident()
    assert incident.response_breached and not incident.resolution_breached
    assert incident.priority == "P1"
    assert sorted(incident.escalated) == ["response:breach", "response:near_breach"]
    escalations = await models.OutboxRow.filter(action="escalate").count()
    assert escalations == 2


async def test_hold_down_read_before_a_repeat_does_not_resolve(
    setup: tuple[Database, CompiledRuleSet, PeriodicJobs],
) -> None:
    """The job reads the incidents without a lock: an alert firing again after that
    read (the pipeline clears ``resolve_after``) must win over the stale read."""
    db, ruleset, _ = setup
    store = PeriodicStore(IncidentStore(db))
    await _feed(db, ruleset, EventStatus.FIRING, T0)
    await _feed(db, ruleset, EventStatus.RESOLVED, T0 + timedelta(minutes=1))
    later = T0 + timedelta(minutes=10)
    async with db.transaction() as connection:
        stale = ruleset.due_resolutions(await store.holding_down(connection), later)
    assert len(stale) == 1
    await _feed(db, ruleset, EventStatus.FIRING, T0 + timedelta(minutes=9))
    async with db.transaction() as connection:
        assert not await store.resolve(connection, stale[0], later, "stale read")
    incident = await _incident()
    assert incident.status == "new" and incident.resolve_after is None
    kinds = [
        t.kind for t in await models.TimelineEntry.filter(incident_id=incident.id).order_by("id")
    ]
    assert "resolved" not in kinds
    actions = [row.action for row in await models.OutboxRow.all().order_by("id")]
    assert "resolve" not in actions


async def test_close_of_an_incident_reopened_meanwhile_changes_nothing(
    setup: tuple[Database, CompiledRuleSet, PeriodicJobs],
) -> None:
    db, ruleset, jobs = setup
    store = PeriodicStore(IncidentStore(db))
    await _feed(db, ruleset, EventStatus.FIRING, T0)
    await _feed(db, ruleset, EventStatus.RESOLVED, T0 + timedelta(minutes=1))
    await jobs.run_once(T0 + timedelta(minutes=7))
    incident = await _incident()
    assert incident.status == "resolved"
    await models.Incident.filter(id=incident.id).update(status="acknowledged")  # reopened
    async with db.transaction() as connection:
        assert not await store.close(connection, incident.id, T0 + timedelta(days=2))
    incident = await _incident()
    assert incident.status == "acknowledged" and incident.closed_at is None
    kinds = [
        t.kind for t in await models.TimelineEntry.filter(incident_id=incident.id).order_by("id")
    ]
    assert "closed" not in kinds
    actions = [row.action for row in await models.OutboxRow.all().order_by("id")]
    assert actions == ["create", "resolve"]
