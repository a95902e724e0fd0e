"""The per-silence counts (migration 14) stay exact: a database from before them gets
the counts of the events it already holds, on both engines; two replicas writing
events under the same silences at once on PostgreSQL lose no increment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from storage.database import Database, DatabaseSettings, Dialect
from storage.migrations import MIGRATIONS, migrate

_EVENT = (
    "INSERT INTO events (fingerprint, source, kind, name, resource, service, ci, "
    "environment, severity, status, summary, description, labels, url, count, "
    "first_seen, last_seen, last_outcome, suppressed_by, flapping, transitions, "
    "correlation_key) VALUES ({marks}, 'am', 'alertmanager', 'n', 'r', '', '', "
    "'', 'critical', 'firing', 's', '', '{{}}', '', 1, "
    "{seen}, {seen}, 'suppressed', {by}, false, '[]', 'k')"
)
_DROP_SQLITE = (
    'DROP TRIGGER "silence_holds_insert"; DROP TRIGGER "silence_holds_update"; '
    'DROP TRIGGER "silence_holds_delete"; DROP TABLE "silence_holds";'
)
_DROP_POSTGRES = (
    'DROP TRIGGER "silence_holds_insert" ON "events"; '
    'DROP TRIGGER "silence_holds_update" ON "events"; '
    'DROP TRIGGER "silence_holds_delete" ON "events"; '
    'DROP FUNCTION silence_holds_keep(); DROP TABLE "silence_holds";'
)


@asynccontextmanager
async def _opened(url: str) -> AsyncIterator[Database]:
    db = Database(DatabaseSettings(url=url))
    await db.open()
    try:
        yield db
    finally:
        await db.close()


async def _holds(db: Database) -> dict[str, int]:
    _, rows = await db.connection.execute_query(
        "SELECT suppressed_by, held FROM silence_holds WHERE held <> 0"
    )
    return {row["suppressed_by"]: int(row["held"]) for row in rows}


async def _counted(db: Database) -> dict[str, int]:
    _, rows = await db.connection.execute_query(
        "SELECT suppressed_by, COUNT(*) AS n FROM events "
        "WHERE suppressed_by LIKE 'silence:%' GROUP BY suppressed_by"
    )
    return {row["suppressed_by"]: int(row["n"]) for row in rows}


async def test_a_database_from_before_the_counts_gets_them(database_url: str) -> None:
    async with _opened(database_url) as db:
        await migrate(db)
        postgres = db.dialect is Dialect.POSTGRES
        connection = db.connection
        await connection.execute_script(_DROP_POSTGRES if postgres else _DROP_SQLITE)
        await connection.execute_query("UPDATE gateway_schema SET version = 13")
        seen = "'2026-01-05 08:00:00+00:00'"
        for number, by in enumerate(("silence:1", "silence:1", "silence:2", "", "inhibit:x")):
            statement = _EVENT.format(marks=f"'f{number}'", seen=seen, by=f"'{by}'")
            await connection.execute_query(statement)
        assert await migrate(db) == max(step.version for step in MIGRATIONS)
        assert await _holds(db) == {"silence:1": 2, "silence:2": 1}


async def _replica(url: str, name: str, rounds: int) -> None:
    """One replica's pipeline: each transaction writes events under silence 1, moves one
    of its events to silence 2 and back, and releases another."""
    connection = await asyncpg.connect(url)
    try:
        for number in range(rounds):
            async with connection.transaction():
                for part in range(3):
                    await connection.execute(
                        _EVENT.format(marks="$1", seen="now()", by="$2"),
                        f"{name}-{number}-{part}",
                        "silence:1",
                    )
                await connection.execute(
                    "UPDATE events SET suppressed_by = $1, last_seen = now() "
                    "WHERE fingerprint = $2",
                    "silence:2" if number % 2 else "",
                    f"{name}-{number}-0",
                )
            if number % 5 == 4:  # retention deletes some
                await connection.execute(
                    "DELETE FROM events WHERE fingerprint = $1", f"{name}-{number}-1"
                )
    finally:
        await connection.close()


async def test_two_replicas_lose_no_increment(postgres_url: str) -> None:
    async with _opened(postgres_url) as db:
        await migrate(db)
        await asyncio.gather(*(_replica(postgres_url, name, 60) for name in ("a", "b")))
        counted = await _counted(db)
        assert counted["silence:1"] == 2 * (60 * 2 - 60 // 5)
        assert await _holds(db) == counted
