"""One replica at a time: transaction-level advisory locks on PostgreSQL.

A job that only one replica may run (the periodic job, heartbeat checks,
retention) takes its lock in the transaction that does the work, so the
lock ends with the transaction, and with the session of a replica that
dies. SQLite needs none: one daemon per database file.
"""

from __future__ import annotations

from storage.atomic import QueryRunner
from storage.sql import Sql


async def try_advisory_lock(connection: QueryRunner, sql: Sql, key: int) -> bool:
    """True if ``connection``'s transaction now holds the lock ``key`` (always on SQLite)."""
    if not sql.postgres:
        return True
    rows = await connection.execute_query_dict("SELECT pg_try_advisory_xact_lock($1) AS got", [key])
    return bool(rows[0]["got"])
