"""Retention on both engines: what is old goes, in batches; what is live stays.

A database is seeded a year and more into the past and "now" is set by
the test, so every age boundary is checked exactly.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from gateway.config.daemon import RetentionConfig
from gateway.jobs.retention import RETENTION_LOCK, RetentionJob
from storage import models
from storage.database import Database, Dialect, sqlite_path
from storage.retention import RetentionStore
from tests.conftest import ConfigWriter, opened_database
from tests.integration.daemon import eventually, running_daemon

NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=400)  # past every age below
RECENT = NOW - timedelta(days=2)
CONFIG = RetentionConfig(
    intake_records_days=90,
    rejected_intake_days=30,
    incidents_days=365,
    batch_size=3,  # small, so every table takes several batches
    pause_seconds=0,
)
_numbers = count(1)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with opened_database(database_url, pool_size=4) as database:
        yield database


def _job(db: Database, config: RetentionConfig = CONFIG) -> RetentionJob:
    return RetentionJob(
        db=db,
        store=RetentionStore(db),
        config=config,
        registry=CollectorRegistry(),
        clock=lambda: NOW,
    )


async def _intake(received: datetime, state: str) -> int:
    number = next(_numbers)
    row = await models.IntakeRecordRow.create(
        channel="http",
        source="generic",
        kind="generic",
        received_at=received,
        dedup_key=f"test:{number}",
        body=b"{}",
        size=2,
        state=state,
    )
    return int(row.id)


async def _rejected(received: datetime) -> int:
    row = await models.RejectedIntake.create(
        channel="http",
        source="generic",
        reason="bad_json",
        message="not JSON",
        received_at=received,
        size=3,
        sample=b"{{{",
    )
    return int(row.id)


async def _event(incident_id: int | None, last_seen: datetime) -> int:
    number = next(_numbers)
    row = await models.Event.create(
        fingerprint=f"fp-{number}",
        source="generic",
        kind="generic",
        name=f"check-{number}",
        resource="db1",
        severity="high",
        status="resolved",
        summary="s",
        first_seen=last_seen,
        last_seen=last_seen,
        last_outcome="recovered",
        incident_id=incident_id,
    )
    await models.Occurrence.create(
        event_id=row.id,
        fingerprint=row.fingerprint,
        correlation_key=row.fingerprint,
        incident_id=incident_id,
        outcome="new",
        at=last_seen,
    )
    return int(row.id)


@dataclass
class Seeded:
    incident: int
    timeline: list[int]
    events: list[int]


async def _incident(status: str, resolved: datetime | None, outbox_state: str) -> Seeded:
    number = next(_numbers)
    created = (resolved or RECENT) - timedelta(hours=1)
    incident = await models.Incident.create(
        title=f"incident {number}",
        status=status,
        correlation_key=f"ck-{number}",
        open_key=None if resolved else f"ck-{number}",
        created_at=created,
        updated_at=resolved or created,
        resolved_at=resolved,
    )
    timeline = [
        (await models.TimelineEntry.create(incident_id=incident.id, at=created, kind=kind)).id
        for kind in ("opened", "resolved")
    ]
    await models.MailThread.create(
        message_id=f"<m{number}@example.org>",
        incident_id=incident.id,
        direction="in",
        created_at=created,
    )
    await models.ExternalRef.create(
        incident_id=incident.id, sink="jira", ticket_id=f"OPS-{number}", created_at=created
    )
    await models.OutboxRow.create(
        incident_id=incident.id,
        sink="jira",
        action="create",
        idempotency_key=f"{incident.id}:jira:create",
        state=outbox_state,
        next_attempt_at=created,
        created_at=created,
    )
    events = [await _event(incident.id, created), await _event(incident.id, created)]
    return Seeded(incident.id, timeline, events)


async def _ids(model: Any) -> set[int]:
    return {row.id for row in await model.all()}


async def test_old_rows_go_in_batches_and_live_ones_stay(db: Database) -> None:
    for _ in range(7):
        await _intake(OLD, "processed")
    await _intake(OLD, "failed")
    old_pending = await _intake(OLD, "pending")
    young = await _intake(NOW - timedelta(days=89), "processed")
    for _ in range(4):
        await _rejected(NOW - timedelta(days=31))
    rejected_young = await _rejected(NOW - timedelta(days=29))
    finished = [await _incident("closed", OLD, "delivered") for _ in range(2)]
    dead_lettered = await _incident("resolved", OLD, "dead")
    forwarding = await _incident("resolved", OLD, "pending")  # kept until forwarded
    still_open = await _incident("new", None, "delivered")
    lately_resolved = await _incident("resolved", NOW - timedelta(days=364), "delivered")
    # an event of a finished incident that fired again lately outlives the incident
    lively = await _event(finished[0].incident, RECENT)
    loose_old = await _event(None, OLD)
    loose_young = await _event(None, RECENT)

    deleted = await _job(db).run_once(NOW)

    assert deleted == {
        "intake_records": 8,
        "rejected_intake": 4,
        "incidents": 3,
        # by age alone: those of the three deleted incidents, of the incident still
        # forwarding (its occurrences are as old) and of the old loose event
        "occurrences": 9,
        "events": 1,
    }
    assert await _ids(models.IntakeRecordRow) == {old_pending, young}
    assert await _ids(models.RejectedIntake) == {rejected_young}
    kept = [forwarding, still_open, lately_resolved]
    assert await _ids(models.Incident) == {seeded.incident for seeded in kept}
    assert await _ids(models.TimelineEntry) == {t for seeded in kept for t in seeded.timeline}
    assert {row.incident_id for row in await models.MailThread.all()} == {
        seeded.incident for seeded in kept
    }
    assert {row.incident_id for row in await models.ExternalRef.all()} == {
        seeded.incident for seeded in kept
    }
    assert {row.incident_id for row in await models.OutboxRow.all()} == {
        seeded.incident for seeded in kept
    }
    kept_events = {event for seeded in kept for event in seeded.events}
    assert await _ids(models.Event) == kept_events | {lively, loose_young}
    assert (await models.Event.get(id=lively)).incident_id is None
    assert loose_old not in await _ids(models.Event)
    assert dead_lettered.incident not in await _ids(models.Incident)
    # nothing left to do: a second run deletes nothing
    assert set((await _job(db).run_once(NOW) or {}).values()) == {0}


async def test_an_old_record_that_failed_in_the_middle_goes_with_its_progress(
    db: Database,
) -> None:
    """A record applied in parts keeps its progress beside it (intake_progress) while it
    may be requeued; once retention deletes the record, that row goes too."""
    failed = await _intake(OLD, "failed")
    recent = await _intake(RECENT, "failed")
    for record in (failed, recent):
        await db.connection.execute_query(
            f"INSERT INTO intake_progress (intake_id, applied_events) VALUES ({record}, 128)"
        )
    await _job(db).run_once(NOW)
    _, rows = await db.connection.execute_query("SELECT intake_id FROM intake_progress")
    assert [int(row["intake_id"]) for row in rows] == [recent]


async def test_unset_ages_keep_everything(db: Database) -> None:
    await _intake(OLD, "processed")
    await _rejected(OLD)
    await _incident("closed", OLD, "delivered")
    keep_all = RetentionConfig(
        intake_records_days=None, rejected_intake_days=None, incidents_days=None
    )
    assert await _job(db, keep_all).run_once(NOW) == {}
    assert await models.IntakeRecordRow.all().count() == 1
    assert await models.Incident.all().count() == 1


@pytest.fixture
async def pg_db(postgres_url: str) -> AsyncIterator[Database]:
    """PostgreSQL only: SQLite allows one process per file, so there is no second replica."""
    async with opened_database(postgres_url, pool_size=4) as database:
        yield database


async def test_one_replica_at_a_time_and_locked_rows_are_passed_over(pg_db: Database) -> None:
    db = pg_db
    held = await _intake(OLD, "processed")
    other = await _intake(OLD, "processed")
    replica = await asyncpg.connect(db.settings.url)  # another replica's session
    try:
        async with replica.transaction():
            # the other replica is running retention: this one skips
            await replica.execute("SELECT pg_advisory_xact_lock($1)", RETENTION_LOCK)
            assert await _job(db).run_once(NOW) is None
        async with replica.transaction():
            # a row the other session holds is not waited for, and is taken next time
            await replica.execute("SELECT id FROM intake_records WHERE id = $1 FOR UPDATE", held)
            deleted = await asyncio.wait_for(_job(db).run_once(NOW), 10)
            assert deleted is not None and deleted["intake_records"] == 1
            assert await _ids(models.IntakeRecordRow) == {held}
    finally:
        await replica.close()
    assert other not in await _ids(models.IntakeRecordRow)
    await _job(db).run_once(NOW)
    assert await _ids(models.IntakeRecordRow) == set()


async def test_each_batch_commits_on_its_own(db: Database) -> None:
    """Another session sees the table shrink batch by batch while the run goes on."""
    for _ in range(9):
        await _intake(OLD, "processed")
    paced = RetentionConfig(
        intake_records_days=90,
        rejected_intake_days=None,
        incidents_days=None,
        batch_size=3,
        pause_seconds=0.3,
    )
    run = asyncio.create_task(_job(db, paced).run_once(NOW))
    seen: set[int] = set()
    while not run.done():
        seen.add(await _count_elsewhere(db))
        await asyncio.sleep(0.05)
    assert await run == {"intake_records": 9}
    assert {6, 3} <= seen, f"counts another session saw during the run: {sorted(seen)}"


async def _count_elsewhere(db: Database) -> int:
    """The intake table's size as a session of its own sees it."""
    if db.dialect is Dialect.POSTGRES:
        other = await asyncpg.connect(db.settings.url)
        try:
            return int(await other.fetchval("SELECT count(*) FROM intake_records"))
        finally:
            await other.close()
    path = sqlite_path(db.settings.url)
    with sqlite3.connect(path) as other:
        return int(other.execute("SELECT count(*) FROM intake_records").fetchone()[0])


async def test_the_daemon_runs_retention(write_config: ConfigWriter, database_url: str) -> None:
    loaded = write_config(database_url, retention={"interval_seconds": 0.2})
    async with running_daemon(loaded):
        stale = await _intake(datetime.now(UTC) - timedelta(days=91), "processed")
        fresh = await _intake(datetime.now(UTC) - timedelta(days=89), "processed")
        await eventually(lambda: _ids(models.IntakeRecordRow), lambda ids: stale not in ids)
        assert fresh in await _ids(models.IntakeRecordRow)
