"""Schema version 8 on both engines: a version-7 database gets the timeline's visibility
(status changes and mail comments public, the rest internal) and the rating columns."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from storage import models
from storage.database import Database, Dialect
from storage.migrations import MIGRATIONS, migrate

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def _as_version_7(db: Database) -> None:
    connection = db.connection
    if db.dialect is Dialect.POSTGRES:
        await connection.execute_script(
            'ALTER TABLE "timeline" DROP COLUMN "visibility"; '
            'ALTER TABLE "incidents" DROP COLUMN "rating"; '
            'ALTER TABLE "incidents" DROP COLUMN "rated_at"'
        )
    else:  # SQLite drops no column an index holds; version 7 had no report index
        await connection.execute_script('DROP INDEX "idx_incidents_reported"')
        for table, column in (
            ("timeline", "visibility"),
            ("incidents", "rating"),
            ("incidents", "rated_at"),
        ):
            await connection.execute_script(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    await connection.execute_query("UPDATE gateway_schema SET version = 7")


async def test_a_version_7_database_gets_visibility_and_ratings(db: Database) -> None:
    await _as_version_7(db)
    entries = [
        ("opened", {"priority": "P3"}),
        ("event_joined", {}),
        ("escalation", {}),
        ("comment", {"message_id": "<r1@client.example>"}),  # a mail reply
        ("comment", {}),  # an alert's text
        ("acknowledged", {"from": "new"}),
    ]
    for kind, data in entries:
        await db.connection.execute_query(
            "INSERT INTO timeline (incident_id, at, kind, author, text, data) "
            f"VALUES ({db.placeholders(6)})",
            [1, T0, kind, "gateway", kind, orjson.dumps(data).decode()],
        )
    assert await migrate(db) == max(m.version for m in MIGRATIONS)
    found = [(row.kind, row.visibility) for row in await models.TimelineEntry.all().order_by("id")]
    assert found == [
        ("opened", "public"),
        ("event_joined", "internal"),
        ("escalation", "internal"),
        ("comment", "public"),
        ("comment", "internal"),
        ("acknowledged", "public"),
    ]
    _, rows = await db.connection.execute_query(
        "SELECT COUNT(*) AS n FROM incidents WHERE rating IS NULL AND rated_at IS NULL"
    )
    assert rows[0]["n"] == 0
    assert await migrate(db) == max(m.version for m in MIGRATIONS)  # a second run: no-op
