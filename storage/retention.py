"""Deleting old rows, one small batch per transaction.

Each ``prune_*`` call deletes at most ``limit`` rows of its table in one
short transaction and returns how many went; the caller pauses between
calls and stops when a call returns less than a full batch. On PostgreSQL
the rows to delete are picked with ``FOR UPDATE SKIP LOCKED``: a row another
transaction holds (intake, the pipeline, the dispatcher) is passed over and
taken at the next run, so deleting never waits on live work.

What goes:

* intake records received before the cutoff and no longer pending (with the
  progress of one that failed in the middle of its parts);
* samples of rejected input received before the cutoff;
* incidents resolved (or closed) before the cutoff, with their timeline,
  mail threads, ticket references, settled forwarding rows, and their events
  unless an event was seen after the cutoff (then it is only unlinked);
  an incident with forwarding work still pending is kept until it is done;
* occurrences from before the cutoff, and events that belong to no incident
  and were last seen before it.

Occurrences and events deleted are taken out of the reports' daily roll-up
(storage/rollup.py) in the same transaction: reports over any period count the
rows still stored, with or without the roll-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.atomic import QueryRunner
from storage.database import Database
from storage.locks import try_advisory_lock
from storage.rollup import EVENT_FIELDS, DayTally
from storage.sql import Sql


class RetentionStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.sql = Sql(db.dialect)

    async def try_lock(self, connection: QueryRunner, key: int) -> bool:
        """One replica at a time: ``connection``'s transaction holds the lock for the run."""
        return await try_advisory_lock(connection, self.sql, key)

    def _pick(self, table: str, condition: str) -> str:
        """``id IN (...)``: at most ``limit`` ids of ``table`` matching ``condition``."""
        skip = " FOR UPDATE SKIP LOCKED" if self.sql.postgres else ""
        return f"id IN (SELECT id FROM {table} WHERE {condition} LIMIT ?{skip})"

    async def _delete(
        self, table: str, condition: str, values: Sequence[Any], counted: str = "id"
    ) -> int:
        """``counted``: the columns the roll-up needs of the rows of ``table`` (events,
        occurrences), returned by the delete and taken out of it."""
        async with self._db.transaction() as connection:
            rows = await connection.execute_query_dict(
                self.sql(
                    f"DELETE FROM {table} WHERE {self._pick(table, condition)} RETURNING {counted}"
                ),
                list(values),
            )
            if counted != "id":
                await self._forget(connection, table, rows)
            elif table == "intake_records" and rows:
                # the progress of a record that failed in the middle of its parts (kept
                # while it may be requeued) goes with it
                ids = [row["id"] for row in rows]
                marks = ", ".join("?" for _ in ids)
                await connection.execute_query(
                    self.sql(f"DELETE FROM intake_progress WHERE intake_id IN ({marks})"), ids
                )
        return len(rows)

    async def _forget(
        self, connection: QueryRunner, table: str, rows: Sequence[dict[str, Any]]
    ) -> None:
        tally = DayTally(self.sql)
        tally.forget(rows, table)
        await tally.write(connection)

    async def prune_intake(self, cutoff: datetime, limit: int) -> int:
        return await self._delete(
            "intake_records",
            "received_at < ? AND state <> 'pending'",
            [self.sql.time(cutoff), limit],
        )

    async def prune_rejected(self, cutoff: datetime, limit: int) -> int:
        return await self._delete(
            "rejected_intake", "received_at < ?", [self.sql.time(cutoff), limit]
        )

    async def prune_occurrences(self, cutoff: datetime, limit: int) -> int:
        return await self._delete(
            "occurrences", "at < ?", [self.sql.time(cutoff), limit], "outcome, at"
        )

    async def prune_loose_events(self, cutoff: datetime, limit: int) -> int:
        """Events no incident holds (suppressed, held below a threshold) and long quiet."""
        return await self._delete(
            "events",
            "incident_id IS NULL AND last_seen < ?",
            [self.sql.time(cutoff), limit],
            EVENT_FIELDS,
        )

    async def prune_incidents(self, cutoff: datetime, limit: int) -> int:
        """Finished incidents and everything that hangs off them; returns incidents deleted."""
        sql = self.sql
        skip = " FOR UPDATE SKIP LOCKED" if sql.postgres else ""
        async with self._db.transaction() as connection:
            rows = await connection.execute_query_dict(
                sql(
                    "SELECT id FROM incidents i WHERE status IN ('resolved', 'closed') "
                    "AND resolved_at < ? AND NOT EXISTS (SELECT 1 FROM outbox o "
                    "WHERE o.incident_id = i.id AND o.state = 'pending') "
                    f"ORDER BY id LIMIT ?{skip}"
                ),
                [sql.time(cutoff), limit],
            )
            ids = [int(row["id"]) for row in rows]
            if ids:
                await self._delete_incidents(connection, ids, cutoff)
        return len(ids)

    async def _delete_incidents(
        self, connection: QueryRunner, ids: list[int], cutoff: datetime
    ) -> None:
        sql = self.sql
        marks = ", ".join("?" for _ in ids)
        for table in ("timeline", "mail_threads", "external_refs"):
            await connection.execute_query(
                sql(f"DELETE FROM {table} WHERE incident_id IN ({marks})"), ids
            )
        await connection.execute_query(
            sql(f"DELETE FROM outbox WHERE incident_id IN ({marks}) AND state <> 'pending'"), ids
        )
        # an event seen since the cutoff outlives the incident it once belonged to
        await connection.execute_query(
            sql(
                f"UPDATE events SET incident_id = NULL WHERE incident_id IN ({marks}) "
                "AND last_seen >= ?"
            ),
            [*ids, sql.time(cutoff)],
        )
        gone = await connection.execute_query_dict(
            sql(f"DELETE FROM events WHERE incident_id IN ({marks}) RETURNING {EVENT_FIELDS}"),
            ids,
        )
        await self._forget(connection, "events", gone)
        await connection.execute_query(sql(f"DELETE FROM incidents WHERE id IN ({marks})"), ids)
