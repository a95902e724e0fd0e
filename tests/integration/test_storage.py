"""Storage on both engines: schema, group commit, de-duplication, applying decisions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.backends.base.client import BaseDBAsyncClient

from core.records import Channel, Event, EventStatus, Severity
from rules.decision import EventOutcome, IncidentAction
from rules.placeholder import FingerprintRuleSet
from storage import models
from storage.actions import ActionRefused, Actions, NewSilence
from storage.atomic import QueryRunner, run_atomic
from storage.database import Database, DatabaseSettings, Dialect
from storage.incident_state import active_silences
from storage.incidents import IncidentStore
from storage.intake import IntakeWriter, NewIntake
from storage.leases import LeaseStore
from storage.migrations import MIGRATIONS, Migration, current_version, migrate
from storage.sql import Sql
from storage.views import IncidentFilter, get_incident, list_incidents

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _intake(body: bytes, key: str | None = None) -> NewIntake:
    return NewIntake(
        channel=Channel.HTTP,
        source="generic",
        kind="generic",
        raw=body,
        received_at=T0,
        meta={"content_type": "application/json"},
        dedup_key=key,
    )


def _event(status: EventStatus = EventStatus.FIRING, name: str = "disk full") -> Event:
    return Event(
        source="generic",
        kind="generic",
        name=name,
        resource="db1",
        severity=Severity.HIGH,
        status=status,
        summary=f"{name} on db1",
        occurred_at=T0,
    )


async def test_fresh_database_is_stamped_with_newest_version(db: Database) -> None:
    assert await current_version(db, db.connection) == max(m.version for m in MIGRATIONS)
    assert await migrate(db) == max(m.version for m in MIGRATIONS)  # a second run is a no-op


async def test_existing_database_is_upgraded_step_by_step(db: Database) -> None:
    async def add_table(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
        await connection.execute_script("CREATE TABLE upgrade_probe (id INTEGER PRIMARY KEY)")

    newest = max(m.version for m in MIGRATIONS)
    steps = (*MIGRATIONS, Migration(newest + 1, "probe table", add_table))
    assert await migrate(db, steps) == newest + 1
    assert await current_version(db, db.connection) == newest + 1
    _, rows = await db.connection.execute_query("SELECT COUNT(*) AS n FROM upgrade_probe")
    assert rows[0]["n"] == 0
    assert await migrate(db, steps) == newest + 1  # already applied: not run again


async def test_a_version_1_database_gets_the_leases_table(db: Database) -> None:
    connection = db.connection
    await connection.execute_script('DROP TABLE "leases"')
    await connection.execute_query("UPDATE gateway_schema SET version = 1")  # as stamped by 1
    assert await current_version(db, connection) == 1
    assert await migrate(db) == max(m.version for m in MIGRATIONS)
    _, rows = await connection.execute_query("SELECT COUNT(*) AS n FROM leases")
    assert rows[0]["n"] == 0
    assert await LeaseStore(db).hold("imap:a:INBOX", "one", 30)


async def test_a_version_2_database_gets_sent_message_ids_without_brackets(
    db: Database,
) -> None:
    connection = db.connection
    rows = [("<sent@gw>", "out"), ("looped@gw", "in"), ("<looped@gw>", "out")]
    for message_id, direction in rows:
        await models.MailThread.create(
            message_id=message_id, incident_id=1, direction=direction, created_at=T0
        )
    await connection.execute_query("UPDATE gateway_schema SET version = 2")
    assert await migrate(db) == max(m.version for m in MIGRATIONS)
    found = {(t.message_id, t.direction) for t in await models.MailThread.all()}
    assert found == {("sent@gw", "out"), ("looped@gw", "in")}


async def test_sqlite_runs_in_wal_with_full_sync(tmp_path: object) -> None:
    database = Database(DatabaseSettings(url=f"sqlite://{tmp_path}/x.sqlite3"))
    await database.open()
    try:
        _, mode = await database.connection.execute_query("PRAGMA journal_mode")
        _, sync = await database.connection.execute_query("PRAGMA synchronous")
        assert str(mode[0][0]).lower() == "wal"
        assert sync[0][0] == 2  # FULL
    finally:
        await database.close()


async def test_derived_writes_skip_the_fsync_and_leave_full_sync_for_the_rest(
    tmp_path: object,
) -> None:
    database = Database(DatabaseSettings(url=f"sqlite://{tmp_path}/x.sqlite3"))
    await database.open()
    seen: list[int] = []

    async def unit(connection: QueryRunner) -> int:
        rows = await connection.execute_query_dict("PRAGMA synchronous")
        seen.append(int(rows[0]["synchronous"]))
        await connection.execute_query("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
        await connection.execute_query("INSERT INTO t (n) VALUES (1)")
        return 1

    async def failing(connection: QueryRunner) -> int:
        await connection.execute_query("INSERT INTO t (n) VALUES (2)")
        raise RuntimeError("unit fails")

    try:
        await run_atomic(database, unit, derived=True)
        await run_atomic(database, unit)
        with pytest.raises(RuntimeError):
            await run_atomic(database, failing, derived=True)
        assert seen == [1, 2]  # NORMAL inside the derived unit, FULL otherwise
        _, sync = await database.connection.execute_query("PRAGMA synchronous")
        assert sync[0][0] == 2
        _, rows = await database.connection.execute_query("SELECT n FROM t ORDER BY n")
        assert [row[0] for row in rows] == [1, 1]  # the failed unit left nothing
    finally:
        await database.close()


async def test_second_process_on_same_sqlite_file_is_refused(tmp_path: object) -> None:
    from core.errors import ConfigError

    url = f"sqlite://{tmp_path}/x.sqlite3"
    first = Database(DatabaseSettings(url=url))
    await first.open()
    try:
        second = Database(DatabaseSettings(url=url))
        with pytest.raises(ConfigError, match="in use"):
            await second.open()
    finally:
        await first.close()


async def test_concurrent_commits_are_grouped_into_few_transactions(db: Database) -> None:
    writer = IntakeWriter(db, max_batch=512)
    async with writer.running():
        results = await asyncio.gather(
            *(writer.commit(_intake(f'{{"n": {n}}}'.encode())) for n in range(300))
        )
    ids = [result.id for result in results]
    assert len(set(ids)) == 300
    assert not any(result.duplicate for result in results)
    assert writer.batches_committed < 300 / 4, writer.batches_committed
    stored = await models.IntakeRecordRow.filter(id__in=ids).count()
    assert stored == 300


async def test_redelivery_with_same_key_is_a_duplicate_of_the_original(db: Database) -> None:
    writer = IntakeWriter(db)
    async with writer.running():
        first = await writer.commit(_intake(b"{}", key="delivery:generic:abc"))
        again = await writer.commit(_intake(b"{}", key="delivery:generic:abc"))
        # the same key twice inside one batch
        twins = await asyncio.gather(
            writer.commit(_intake(b"{}", key="delivery:generic:twin")),
            writer.commit(_intake(b"{}", key="delivery:generic:twin")),
        )
    assert not first.duplicate
    assert again.duplicate and again.id == first.id
    assert twins[0].id == twins[1].id
    assert sorted(t.duplicate for t in twins) == [False, True]
    assert await models.IntakeRecordRow.filter(dedup_key="delivery:generic:twin").count() == 1


async def test_batch_mixing_new_and_known_keys_gives_each_record_its_own_id(db: Database) -> None:
    writer = IntakeWriter(db, max_batch=512)
    async with writer.running():
        known = await asyncio.gather(
            *(writer.commit(_intake(f"old {n}".encode(), key=f"k{n}")) for n in range(0, 40, 3))
        )
        # one batch: every third key was stored before, the rest are new
        results = await asyncio.gather(
            *(writer.commit(_intake(f"new {n}".encode(), key=f"k{n}")) for n in range(40))
        )
    originals = {f"k{n}": result.id for n, result in zip(range(0, 40, 3), known, strict=True)}
    rows = {row.id: row for row in await models.IntakeRecordRow.all()}
    assert len(rows) == 40
    for n, result in enumerate(results):
        key = f"k{n}"
        if key in originals:
            assert result.duplicate and result.id == originals[key]
            assert bytes(rows[result.id].body) == f"old {n}".encode()
        else:
            assert not result.duplicate
            assert rows[result.id].dedup_key == key
            assert bytes(rows[result.id].body) == f"new {n}".encode()


async def test_commit_after_stop_is_refused(db: Database) -> None:
    from core.errors import StorageUnavailable

    writer = IntakeWriter(db)
    async with writer.running():
        pass
    with pytest.raises(StorageUnavailable):
        await writer.commit(_intake(b"{}"))


async def _evaluate_and_apply(db: Database, event: Event, now: datetime) -> tuple[str, str, int]:
    rules = FingerprintRuleSet()
    store = IncidentStore(db)
    async with db.transaction() as connection:
        lookup = rules.lookup(event, now)
        state = await store.load_state(
            connection, lookup, await active_silences(connection, store.sql, now)
        )
        decision = rules.evaluate(event, state, now)
        applied = await store.apply(connection, event, decision, state, None, now)
    assert applied.incident_id is not None
    return applied.outcome.value, applied.action.value, applied.incident_id


async def test_event_lifecycle_open_dedup_resolve_reopen(db: Database) -> None:
    outcome, action, incident_id = await _evaluate_and_apply(db, _event(), T0)
    assert (outcome, action) == (EventOutcome.NEW, IncidentAction.OPEN)
    outcome, action, same = await _evaluate_and_apply(db, _event(), T0 + timedelta(minutes=1))
    assert (outcome, action, same) == (
        EventOutcome.DEDUPLICATED,
        IncidentAction.UPDATE,
        incident_id,
    )
    await _evaluate_and_apply(db, _event(EventStatus.RESOLVED), T0 + timedelta(minutes=2))
    incident = await models.Incident.get(id=incident_id)
    assert incident.status == "resolved" and incident.open_key is None
    assert incident.firing_events == 0
    outcome, action, reopened = await _evaluate_and_apply(db, _event(), T0 + timedelta(minutes=3))
    assert (action, reopened) == (IncidentAction.REOPEN, incident_id)
    event = await models.Event.get(fingerprint=_event().default_fingerprint())
    assert event.count == 4
    assert len(event.transitions) == 2
    detail = await get_incident(f"INC-{incident_id:06d}")
    assert detail is not None
    kinds = [entry["kind"] for entry in detail["timeline"]]
    assert kinds == ["opened", "resolved", "reopened"]
    assert detail["events"][0]["count"] == 4


async def test_one_open_incident_per_correlation_key_is_enforced(db: Database) -> None:
    from core.errors import WriteConflict

    await _evaluate_and_apply(db, _event(), T0)
    key = _event().default_fingerprint()
    with pytest.raises(WriteConflict):
        async with db.transaction() as connection:
            await models.Incident.create(
                using_db=connection,
                title="racing twin",
                correlation_key=key,
                open_key=key,
                created_at=T0,
                updated_at=T0,
            )


async def test_acknowledge_and_resolve_are_recorded_and_checked(db: Database) -> None:
    _, _, incident_id = await _evaluate_and_apply(db, _event(), T0)
    actions = Actions(db)
    acked = await actions.acknowledge(str(incident_id), "alice", "looking", T0, None)
    assert acked is not None and acked["status"] == "acknowledged"
    again = await actions.acknowledge(f"INC-{incident_id:06d}", "alice", "", T0, None)
    assert again is not None and again["status"] == "acknowledged"
    resolved = await actions.resolve(str(incident_id), "bob", "fixed the disk", T0, None)
    assert resolved is not None and resolved["resolved_at"] is not None
    with pytest.raises(ActionRefused):
        await actions.acknowledge(str(incident_id), "alice", "", T0, None)
    assert await actions.acknowledge("999999", "x", "", T0, None) is None
    timeline = await models.TimelineEntry.filter(incident_id=incident_id).order_by("id")
    assert [(t.kind, t.author) for t in timeline][1:] == [
        ("acknowledged", "alice"),
        ("resolved", "bob"),
    ]


async def test_silences_create_list_expire(db: Database) -> None:
    actions = Actions(db)
    created = await actions.create_silence(
        NewSilence(
            matchers=[{"name": "resource", "op": "=", "value": "db1"}],
            starts_at=T0,
            ends_at=T0 + timedelta(hours=2),
            author="alice",
            comment="patching",
        ),
        T0,
        None,
    )
    assert created["state"] == "active"
    async with db.transaction() as connection:
        assert [s.id for s in await active_silences(connection, Sql(db.dialect), T0)] == [
            created["id"]
        ]
    assert await actions.expire_silence(created["id"], T0 + timedelta(minutes=5), None)
    assert not await actions.expire_silence(created["id"], T0 + timedelta(minutes=6), None)
    assert await actions.list_silences(T0 + timedelta(minutes=7), include_expired=False) == []
    everything = await actions.list_silences(T0, include_expired=True)
    assert everything[0]["state"] == "expired"


async def test_incident_list_filters_and_pages_newest_first(db: Database) -> None:
    for index in range(5):
        await _evaluate_and_apply(db, _event(name=f"check-{index}"), T0)
    first = await list_incidents(IncidentFilter(limit=2))
    assert [item["title"] for item in first] == ["check-4 on db1", "check-3 on db1"]
    second = await list_incidents(IncidentFilter(limit=2, before=first[-1]["id"]))
    assert [item["title"] for item in second] == ["check-2 on db1", "check-1 on db1"]
    assert await list_incidents(IncidentFilter(status=("resolved",))) == []
    assert len(await list_incidents(IncidentFilter(priority=("P2",)))) == 5
    assert len(await list_incidents(IncidentFilter(major=False, service="", type="incident"))) == 5
    assert await list_incidents(IncidentFilter(major=True)) == []


async def test_a_listed_incident_reads_as_its_detail_does(db: Database) -> None:
    """The list reads plain rows and the detail ORM objects: the JSON must not differ."""
    await _evaluate_and_apply(db, _event(name="disk"), T0)
    async with db.transaction() as connection:
        await connection.execute_query(
            "INSERT INTO external_refs (incident_id, sink, ticket_id, url, created_at) "
            f"VALUES ({db.placeholders(5)})",
            [1, "jira", "OPS-7", "https://jira.example/OPS-7", T0],
        )
    (listed,) = await list_incidents(IncidentFilter())
    detail = await get_incident(str(listed["id"]))
    assert detail is not None
    del detail["events"], detail["timeline"]
    assert listed == detail
    assert listed["external_refs"] == [
        {"sink": "jira", "ticket_id": "OPS-7", "url": "https://jira.example/OPS-7"}
    ]
    assert listed["major"] is False and listed["sla"]["response_breached"] is False
    assert listed["created_at"].endswith("Z")


async def test_a_task_recovers_after_postgres_terminated_its_connections(
    postgres_url: str,
) -> None:
    """BEGIN on a terminated pooled connection must not poison the task for good."""
    import asyncpg

    from core.errors import StorageUnavailable
    from tests.conftest import PG_ADMIN_URL

    name = postgres_url.rsplit("/", 1)[1]
    database = Database(DatabaseSettings(url=postgres_url, connect_timeout_seconds=2))
    await database.open()
    try:
        await migrate(database)
        async with database.transaction() as connection:  # a pooled connection, now idle
            await connection.execute_query("SELECT 1")
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
            with pytest.raises(StorageUnavailable):
                async with database.transaction() as connection:
                    await connection.execute_query("SELECT 1")
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
        for _ in range(3):  # the same task, again and again: each must work
            async with database.transaction() as connection:
                _, rows = await connection.execute_query("SELECT 1 AS one")
                assert rows[0]["one"] == 1
    finally:
        await database.close()
