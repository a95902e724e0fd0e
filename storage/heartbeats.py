"""The ``heartbeats`` table: each watched integration's last sign of life, shared by replicas.

Every replica writes what its own HTTP edge saw (the newest time wins, so
replicas never move a heartbeat back in time); one replica at a time, under
a transaction-level advisory lock, decides whether an incident is raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from storage.atomic import QueryRunner
from storage.database import Database
from storage.locks import try_advisory_lock
from storage.sql import Sql, as_time


@dataclass(frozen=True, slots=True)
class HeartbeatRow:
    integration: str
    last_seen: datetime | None  # None: no heartbeat has come since the row was made
    alerted_at: datetime | None  # set while the "monitoring is down" incident is raised


class HeartbeatStore:
    def __init__(self, db: Database) -> None:
        self.sql = Sql(db.dialect)

    async def record_seen(self, connection: QueryRunner, seen: Mapping[str, datetime]) -> None:
        """Store heartbeats seen at this replica's edge; an older time never wins."""
        sql = self.sql
        for integration, at in seen.items():
            await connection.execute_query(
                sql(
                    "INSERT INTO heartbeats (integration, last_seen, alerted_at) "
                    "VALUES (?, ?, NULL) ON CONFLICT (integration) DO UPDATE SET last_seen = "
                    "CASE WHEN heartbeats.last_seen IS NULL "
                    "OR heartbeats.last_seen < excluded.last_seen "
                    "THEN excluded.last_seen ELSE heartbeats.last_seen END"
                ),
                [integration, sql.time(at)],
            )

    async def rows(
        self, connection: QueryRunner, integrations: Iterable[str]
    ) -> dict[str, HeartbeatRow]:
        names = list(integrations)
        if not names:
            return {}
        marks = ", ".join("?" for _ in names)
        found = await connection.execute_query_dict(
            self.sql(
                "SELECT integration, last_seen, alerted_at FROM heartbeats "
                f"WHERE integration IN ({marks})"
            ),
            names,
        )
        return {
            row["integration"]: HeartbeatRow(
                integration=row["integration"],
                last_seen=as_time(row["last_seen"]),
                alerted_at=as_time(row["alerted_at"]),
            )
            for row in found
        }

    async def set_alerted(
        self, connection: QueryRunner, integration: str, alerted_at: datetime | None
    ) -> None:
        sql = self.sql
        await connection.execute_query(
            sql(
                "INSERT INTO heartbeats (integration, last_seen, alerted_at) VALUES (?, NULL, ?) "
                "ON CONFLICT (integration) DO UPDATE SET alerted_at = excluded.alerted_at"
            ),
            [integration, sql.time(alerted_at)],
        )

    async def try_lock(self, connection: QueryRunner, key: int) -> bool:
        """One replica at a time: ``connection``'s transaction holds the lock for the run."""
        return await try_advisory_lock(connection, self.sql, key)
