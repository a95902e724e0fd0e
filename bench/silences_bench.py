"""The console's silences page on a large database: 100,000 incidents, 1,000,000
events and 50 silences, two of which hold hundreds of thousands of events.

The database is bulk-loaded (``bench.bulk_load``); then 50 active silences are
added and events are marked as suppressed by them: silence 1 holds 400,000,
silence 2 holds 200,000, silences 3 to 20 about 2,800 each, silences 21 to 50
nothing (the page warns about those). The daemon is started with one operator,
who logs in and asks for the silences page (active ones, then with the expired
ones too) and the API's silence list, many times in turn. Latency per page as
the client sees it on loopback (an upper bound of the server's time), p50 and
p99. Target: p99 under 300 ms.

Usage: python -m bench.silences_bench [--incidents N] [--events-per-incident E]
       [--requests R] [--engines SQLite PostgreSQL]
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.api_bench import run_bench
from bench.console_bench import measure_console
from bench.report import Outcome
from storage.database import Database, DatabaseSettings
from storage.sql import Sql

SILENCES = 50
_SLICE = 50_000
PAGES = (
    ("silences page, active", "/ui/silences"),
    ("silences page, with expired", "/ui/silences?all=1"),
    ("API silence list (no counts)", "/api/v1/silences"),
)


def holdings(total: int) -> list[tuple[int, str]]:
    """(silence id, the events it holds as a WHERE clause on events.id)."""
    found = [(1, "id % 10 < 4"), (2, "id % 10 IN (4, 5)")]
    # silences 3..20 share the events with id % 10 = 6 of the first half
    span = total // 2 // 18
    for number in range(3, 21):
        start = (number - 3) * span
        found.append((number, f"id % 10 = 6 AND id > {start} AND id <= {start + span}"))
    return found


async def silence(url: str, total: int) -> None:
    """Add the silences and mark the events they hold (as the pipeline leaves them)."""
    db = Database(DatabaseSettings(url=url))
    await db.open()
    try:
        sql = Sql(db.dialect)
        now = datetime.now(UTC)
        for number in range(1, SILENCES + 1):
            matchers = [{"name": "name", "op": "=", "value": f"Check{number}"}]
            async with db.transaction() as connection:
                await connection.execute_query(
                    sql(
                        "INSERT INTO silences (id, matchers, starts_at, ends_at, author, "
                        "comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    [
                        number,
                        sql.json(matchers),
                        sql.time(now - timedelta(days=30)),
                        sql.time(now + timedelta(days=30)),
                        "bench",
                        f"maintenance {number}",
                        sql.time(now - timedelta(days=30)),
                    ],
                )
        for number, where in holdings(total):
            # in slices of ids: one statement over 400,000 rows outlasts the timeout
            for start in range(0, total, _SLICE):
                async with db.transaction() as connection:
                    await connection.execute_query(
                        sql(
                            f"UPDATE events SET suppressed_by = ? "
                            f"WHERE {where} AND id > ? AND id <= ?"
                        ),
                        [f"silence:{number}", start, start + _SLICE],
                    )
        if sql.postgres:
            await db.connection.execute_query(
                f"SELECT setval(pg_get_serial_sequence('silences', 'id'), {SILENCES})"
            )
            await db.connection.execute_query("VACUUM ANALYZE events")
    finally:
        await db.close()


async def _measure_on(
    url: str | None, label: str, incidents: int, per_incident: int, requests: int
) -> list[Outcome]:
    return await measure_console(
        url, label, incidents, per_incident, requests, PAGES, silence, f", {SILENCES} silences"
    )


def main() -> None:
    run_bench(__doc__, _measure_on, "silences page", "The silences page on a large database", 100)


if __name__ == "__main__":
    main()
