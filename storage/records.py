"""Intake records after commit: picking up pending ones, marking the outcome,
and keeping bounded samples of rejected input."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson

from core.errors import StorageUnavailable
from core.records import Channel, IntakeRecord
from core.storable import storable, storable_envelope
from storage import models
from storage.atomic import QueryRunner, write_statement
from storage.database import DATABASE_ERRORS, Database, Dialect
from storage.sql import Sql, as_time


def record_from_row(row: models.IntakeRecordRow) -> IntakeRecord:
    return IntakeRecord(
        id=row.id,
        channel=Channel(row.channel),
        source=row.source,
        kind=row.kind,
        received_at=row.received_at,
        raw=bytes(row.body),
        meta={str(k): str(v) for k, v in (row.meta or {}).items()},
    )


def _record(row: Mapping[str, Any]) -> IntakeRecord:
    """An intake record from a plain row (SQLite gives times and JSON as text)."""
    meta = row["meta"]
    if isinstance(meta, str | bytes):
        meta = orjson.loads(meta)
    received_at = as_time(row["received_at"])
    assert received_at is not None  # the column is NOT NULL
    return IntakeRecord(
        id=int(row["id"]),
        channel=Channel(row["channel"]),
        source=row["source"],
        kind=row["kind"],
        received_at=received_at,
        raw=bytes(row["body"]),
        meta={str(k): str(v) for k, v in (meta or {}).items()},
    )


class RecordStore:
    def __init__(self, db: Database, owner: str) -> None:
        self._db = db
        self._owner = owner
        self._sql = Sql(db.dialect)

    @property
    def shared(self) -> bool:
        """Whether other processes (replicas) may take records too: on PostgreSQL."""
        return self._sql.postgres

    async def take(
        self,
        ids: Sequence[int],
        handed: Mapping[int, IntakeRecord],
        now: datetime,
        lease: timedelta,
    ) -> list[IntakeRecord]:
        """The records of ``ids`` this replica may apply now, oldest first.

        ``handed`` holds records this process committed and still has in
        memory. On PostgreSQL the records are claimed (other replicas may want
        them); on SQLite only one process uses the file, so nothing needs
        claiming: handed records are used as they are and the rest are read.
        Whether a record is still pending is settled where it is applied
        (``progress``), so a record taken twice is applied once.
        """
        if self.shared:
            return await self.claim(ids, len(ids), now, lease)
        found = [handed[record_id] for record_id in ids if record_id in handed]
        missing = [record_id for record_id in ids if record_id not in handed]
        if missing:
            marks = ", ".join("?" for _ in missing)
            try:
                rows = await self._db.connection.execute_query_dict(
                    "SELECT id, channel, source, kind, received_at, meta, body "
                    f"FROM intake_records WHERE state = 'pending' AND id IN ({marks})",
                    missing,
                )
            except (*DATABASE_ERRORS, sqlite3.DatabaseError) as exc:  # type: ignore[misc]
                raise StorageUnavailable(f"cannot read records: {exc}") from exc
            found.extend(_record(row) for row in rows)
        return sorted(found, key=lambda record: record.id)

    async def claim(
        self,
        ids: Sequence[int] | None,
        limit: int,
        now: datetime,
        lease: timedelta,
        leave: Collection[int] = (),
    ) -> list[IntakeRecord]:
        """Claim pending records (given ids, or the oldest) for this replica.

        A claim is a lease: a replica that dies leaves its claims to expire
        and another picks the records up. On PostgreSQL ``SKIP LOCKED``
        keeps replicas from waiting on each other.

        ``leave``: records this process has in hand (the recovery loop must not
        race the fast path for them, which on PostgreSQL ends in conflicts and
        record-by-record retries). Where one process owns the storage (SQLite)
        every record from the oldest of them on is in hand, so that is the bound;
        with replicas each one is named.
        """
        sql = self._sql
        free = "(claimed_until IS NULL OR claimed_until < ?)"
        if ids is not None:
            # another replica's live claim holds even for records named by id
            # (both would apply them); our own is taken again (a retried round)
            marks = ", ".join("?" for _ in ids)
            where = f"state = 'pending' AND id IN ({marks}) AND ({free} OR claimed_by = ?)"
            params: list[Any] = [*ids, sql.time(now), self._owner]
        else:
            where = f"state = 'pending' AND {free}"
            params = [sql.time(now)]
            if leave and sql.postgres:
                where += " AND NOT (id = ANY(?))"
                params.append(list(leave))
            elif leave:
                where += " AND id < ?"
                params.append(min(leave))
        skip_locked = " FOR UPDATE SKIP LOCKED" if sql.postgres else ""
        statement = sql(
            "UPDATE intake_records SET claimed_by = ?, claimed_until = ? WHERE id IN "
            f"(SELECT id FROM intake_records WHERE {where} ORDER BY id LIMIT ?{skip_locked}) "
            "RETURNING id, channel, source, kind, received_at, meta, body"
        )
        values = [self._owner, sql.time(now + lease), *params, limit]
        # one statement, one hop: claiming is on the path of every record
        rows = await write_statement(self._db, statement, values, "claim")
        return sorted((_record(row) for row in rows), key=lambda record: record.id)

    async def release_all_claims(self) -> int:
        """At start, release the claims of a dead predecessor: on SQLite every claim (one
        process per file), on PostgreSQL those under this replica's name (an ``instance``
        name is one replica's; the default, hostname:pid, is never a live one's)."""
        held = models.IntakeRecordRow.filter(state="pending", claimed_until__isnull=False)
        if self._db.dialect is not Dialect.SQLITE:
            held = held.filter(claimed_by=self._owner)
        async with self._db.transaction() as connection:
            return await held.using_db(connection).update(claimed_by=None, claimed_until=None)

    async def progress(self, connection: QueryRunner, record_ids: Sequence[int]) -> dict[int, int]:
        """Of the records still pending, how many events of each are applied already.

        Run first in the transaction that applies the records: on PostgreSQL its
        row locks make another transaction applying the same records (a claim
        that ran out while a replica was stalled) wait, and then find them done
        or further on.
        """
        ids = list(record_ids)
        applied = (
            "(SELECT p.applied_events FROM intake_progress AS p "
            "WHERE p.intake_id = intake_records.id) AS applied"
        )
        if self._sql.postgres:
            statement = (
                f"SELECT id, {applied} FROM intake_records "
                f"WHERE id IN ({_marks(len(ids))}) AND state = 'pending' FOR UPDATE"
            )
            values = ids
        else:
            # from the index on (state, id) alone, not from the row: SQLite reaches the
            # columns after the body (a big payload's megabytes) only by walking its
            # overflow pages ("+id": not by the primary key; the range keeps it short)
            statement = (
                f"SELECT id, {applied} FROM intake_records WHERE state = 'pending' "
                f"AND +id IN ({_marks(len(ids))}) AND id BETWEEN ? AND ?"
            )
            values = [*ids, min(ids), max(ids)]
        rows = await connection.execute_query_dict(self._sql(statement), values)
        return {int(row["id"]): int(row["applied"] or 0) for row in rows}

    async def mark_processed(
        self,
        connection: QueryRunner,
        record_ids: Sequence[int],
        now: datetime,
        parted: Sequence[int] = (),
    ) -> None:
        """Mark records whose every event is applied as processed (in that transaction);
        ``parted``: those of them whose earlier parts recorded their progress."""
        if parted:
            await connection.execute_query(
                self._sql(
                    f"DELETE FROM intake_progress WHERE intake_id IN ({_marks(len(parted))})"
                ),
                list(parted),
            )
        if not record_ids:
            return
        sql = self._sql
        await connection.execute_query(
            sql(
                "UPDATE intake_records SET state = 'processed', processed_at = ?, error = NULL, "
                f"claimed_until = NULL WHERE id IN ({_marks(len(record_ids))})"
            ),
            [sql.time(now), *record_ids],
        )

    async def mark_applied(
        self, connection: QueryRunner, record_id: int, events: int, *, first: bool
    ) -> None:
        """A record applied in parts: its first ``events`` events are applied (in that
        transaction); the rest follow in later ones, from there, even after a restart.

        The count goes to a row of its own: on SQLite an update of the record's row
        writes its whole body again, megabytes for a big payload. The record's row
        gets its first part's count too, which shows that the record is under way.
        """
        sql = self._sql
        if first:
            statement = "UPDATE intake_records SET applied_events = ? WHERE id = ?"
            await connection.execute_query(sql(statement), [events, record_id])
        await connection.execute_query(
            sql(
                "INSERT INTO intake_progress (intake_id, applied_events) VALUES (?, ?) "
                "ON CONFLICT (intake_id) DO UPDATE SET applied_events = excluded.applied_events"
            ),
            [record_id, events],
        )

    async def mark_failed(self, record_id: int, error: str, now: datetime) -> None:
        """The record stays stored, with why it could not be processed (unless another
        replica processed it meanwhile)."""
        async with self._db.transaction() as connection:
            await (
                models.IntakeRecordRow.filter(id=record_id, state="pending")
                .using_db(connection)
                .update(
                    # the error may quote the input: it must be storable text too
                    state="failed",
                    processed_at=now,
                    error=storable(error[:4000]),
                    claimed_until=None,
                )
            )

    async def pending_count(self) -> int:
        try:
            return await models.IntakeRecordRow.filter(state="pending").count()
        except DATABASE_ERRORS as exc:
            raise StorageUnavailable(f"cannot count pending records: {exc}") from exc

    async def oldest_pending(self) -> datetime | None:
        row = await models.IntakeRecordRow.filter(state="pending").order_by("id").first()
        return row.received_at if row else None

    async def keep_rejected(
        self,
        *,
        channel: Channel,
        source: str,
        reason: str,
        message: str,
        body: bytes,
        size: int,
        sample_bytes: int,
        meta: Mapping[str, str],
        now: datetime,
    ) -> None:
        """Keep a bounded sample of bad input where an admin can look at it."""
        async with self._db.transaction() as connection:
            await models.RejectedIntake.create(
                using_db=connection,
                channel=channel.value,
                source=source[:64],
                reason=reason[:64],
                message=storable(message[:2000]),
                received_at=now,
                size=size,
                sample=body[:sample_bytes],
                meta=storable_envelope(meta),
            )


def _marks(count: int) -> str:
    return ", ".join("?" for _ in range(count))
