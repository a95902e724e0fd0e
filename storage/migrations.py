"""Schema versioning that upgrades an existing database in place.

A fresh database gets every table from the models and is stamped with the
newest version. An existing one runs each newer step, in order, each in its
own transaction together with its version row, so a crash between steps
leaves a database that the next start continues from. On PostgreSQL an
advisory lock makes replicas that start together migrate one at a time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient

from storage import schema_steps as steps
from storage.database import Database, Dialect

log = structlog.get_logger(__name__)

# Any constant unique to this program: the advisory lock key for migrations.
_MIGRATION_LOCK = 0x1A7A_6E01


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Callable[[BaseDBAsyncClient, Dialect], Awaitable[None]]
    # also run on a schema created from the models: what the models cannot say
    # (triggers, an engine's own kind of index)
    on_new_schema: bool = False


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", steps.nothing),
    Migration(2, "leases", steps.leases),
    Migration(3, "sent Message-IDs without angle brackets", steps.bare_sent_ids),
    Migration(4, "events indexed by source and resource", steps.reply_index),
    Migration(5, "firing events by label", steps.firing_labels, on_new_schema=True),
    Migration(6, "progress of a record applied in parts", steps.applied_events, on_new_schema=True),
    Migration(7, "replay ledger of signed requests", steps.seen_signatures, on_new_schema=True),
    Migration(8, "timeline visibility and satisfaction ratings", steps.requester_view),
    Migration(9, "audit log", steps.audit_log, on_new_schema=True),
    Migration(10, "timeline by time", steps.timeline_by_time, on_new_schema=True),
    Migration(11, "incidents waiting on the requester", steps.pending_since),
    Migration(12, "incidents merged into another", steps.merged_into, on_new_schema=True),
    Migration(13, "progress of a record in parts apart", steps.intake_progress, on_new_schema=True),
    Migration(14, "events held per silence", steps.silence_holds, on_new_schema=True),
    Migration(15, "daily roll-up for reports", steps.report_days, on_new_schema=True),
    Migration(
        16, "the calendar of an incident's SLA target", steps.sla_calendar, on_new_schema=True
    ),
    Migration(17, "inhibit sources by label indexes", steps.label_indexes, on_new_schema=True),
    Migration(
        18,
        "firing labels without a pending list",
        steps.firing_labels_without_pending_list,
        on_new_schema=True,
    ),
)


async def current_version(db: Database, connection: BaseDBAsyncClient) -> int | None:
    """The stamped version, or None when the database has no schema yet."""
    if db.dialect is Dialect.SQLITE:
        exists_sql = "SELECT name FROM sqlite_master WHERE type='table' AND name='gateway_schema'"
    else:
        exists_sql = "SELECT to_regclass('gateway_schema') IS NOT NULL AS name"
    _, rows = await connection.execute_query(exists_sql)
    if not rows or not rows[0]["name"]:
        return None
    _, rows = await connection.execute_query("SELECT MAX(version) AS v FROM gateway_schema")
    value = rows[0]["v"] if rows else None
    return int(value) if value is not None else None


async def migrate(
    db: Database, migrations: Sequence[Migration] = MIGRATIONS, *, scratch: bool = False
) -> int:
    """Bring the schema to the newest version; return that version.

    ``scratch``: a throw-away database (replay's), whose new schema is no news at info.
    """
    if db.dialect is Dialect.POSTGRES:
        # DDL is transactional on PostgreSQL: the whole upgrade is one
        # transaction, serialised between replicas by a transaction-level lock.
        async with db.transaction() as connection:
            await connection.execute_query(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            return await _upgrade(db, connection, migrations, scratch)
    # SQLite: the file lock already keeps other processes out.
    return await _upgrade(db, db.connection, migrations, scratch)


async def _upgrade(
    db: Database, connection: BaseDBAsyncClient, migrations: Sequence[Migration], scratch: bool
) -> int:
    newest = max(step.version for step in migrations)
    version = await current_version(db, connection)
    if version is None:
        await Tortoise.generate_schemas(safe=True)
        for step in migrations:
            if step.on_new_schema:
                await step.apply(connection, db.dialect)
        await _stamp(connection, db, newest, "created from models")
        (log.debug if scratch else log.info)("schema_created", version=newest)
        return newest
    if version > newest:
        log.warning("schema_newer_than_program", database=version, program=newest)
        return version
    for step in sorted(migrations, key=lambda item: item.version):
        if step.version <= version:
            continue
        await step.apply(connection, db.dialect)
        await _stamp(connection, db, step.version, step.description)
        log.info("schema_migrated", version=step.version, description=step.description)
    return newest


async def _stamp(
    connection: BaseDBAsyncClient, db: Database, version: int, description: str
) -> None:
    await connection.execute_query(
        "INSERT INTO gateway_schema (version, applied_at, description) "
        f"VALUES ({db.placeholders(3)})",
        [version, datetime.now(UTC), description],
    )
