"""The durable intake path: commit a raw record, and only then acknowledge.

Every adapter (SMTP, IMAP, HTTP) calls :meth:`IntakeWriter.commit` and
answers its sender only after it returns. Concurrent commits are grouped:
one writer task takes everything queued while the previous transaction was
being fsynced and writes it as one multi-row INSERT in one transaction
(group commit). Under load a single fsync acknowledges hundreds of intakes;
an idle daemon still commits each intake at once, without a timer.

Re-delivery is harmless: ``dedup_key`` is unique and conflicting rows are
skipped (``ON CONFLICT DO NOTHING``), and the caller learns the record was a
duplicate together with the id of the original.

One sender cannot fail another's commit: envelope values are made storable
before they join a batch, and a record the database still refuses fails on
its own (DataRejected, a permanent answer) while the rest of its batch is
committed.

A signed request's signature is recorded in the same transaction as its
record (storage/signatures.py): a copy of a request already accepted, in
the same batch, a later one or another replica's, is refused as a replay
and stores nothing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import structlog

from core.errors import DataRejected, GatewayError, SignatureReplayed, StorageUnavailable
from core.records import Channel, IntakeRecord
from core.storable import storable_envelope, storable_key
from storage.atomic import QueryRunner, insert_sqlite, run_atomic, write_statement
from storage.database import DATABASE_ERRORS, Database, Dialect
from storage.signatures import SignatureClaim, record_claims
from storage.sql import Sql

log = structlog.get_logger(__name__)

_COLUMNS = (
    "channel",
    "source",
    "kind",
    "received_at",
    "dedup_key",
    "meta",
    "body",
    "size",
    "state",
)


@dataclass(frozen=True, slots=True)
class NewIntake:
    """An intake record before it has an id."""

    channel: Channel
    source: str
    kind: str
    raw: bytes
    received_at: datetime
    meta: Mapping[str, str] = field(default_factory=dict)
    # Message-ID, (account, folder, UIDVALIDITY, UID), delivery id or body hash;
    # None: every delivery is new.
    dedup_key: str | None = None
    # a signed request's signature: recorded with the record, refused if seen before
    signature: SignatureClaim | None = None

    def __post_init__(self) -> None:
        # made storable before it joins a batch, where one bad value would fail
        # everyone's commit; undecodable envelope bytes are kept exactly, in base64
        object.__setattr__(self, "meta", storable_envelope(self.meta))
        if self.dedup_key is not None:
            object.__setattr__(self, "dedup_key", storable_key(self.dedup_key))

    def stored(self, record_id: int) -> IntakeRecord:
        """The record as it was stored under ``record_id``."""
        return IntakeRecord(
            record_id, self.channel, self.source, self.kind, self.received_at, self.raw, self.meta
        )


@dataclass(frozen=True, slots=True)
class Committed:
    id: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What inserting some records did: ids of the rows inserted and failures, by dedup
    key; the items (by ``id()``) refused because their signature was already accepted."""

    inserted: dict[str, int]
    failed: dict[str, GatewayError]
    replayed: set[int]


@dataclass(slots=True)
class _Pending:
    intake: NewIntake
    key: str
    done: asyncio.Future[Committed]


def _lone_failure(item: _Pending, error: Exception) -> GatewayError:
    """What the sender of a record that failed on its own is told."""
    bound = log.bind(channel=item.intake.channel.value, source=item.intake.source)
    if isinstance(error, DataRejected):
        bound.warning("intake_refused_by_database", error=str(error))
        return error
    bound.error("intake_commit_bug", error=repr(error), exc_info=error)
    return StorageUnavailable(f"internal error: {error!r}")


class IntakeWriter:
    """Group-committing writer of intake records. Use as an async context manager."""

    def __init__(self, db: Database, *, max_batch: int = 512) -> None:
        self._db = db
        self._sql = Sql(db.dialect)
        self._max_batch = max_batch
        self._values_clauses: dict[int, str] = {}  # at most max_batch of them
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.batches_committed = 0
        # set while nothing waits to be committed: background work defers to intake
        self.idle = asyncio.Event()
        self.idle.set()
        self._last_commit = -float("inf")  # monotonic time of the latest commit request
        # time spent committing, by whole second (monotonic): this one and the one before
        self._second = 0
        self._busy_now = 0.0
        self._busy_before = 0.0
        self._held = 0.0  # seconds the batch being committed held the connection
        # unique keys for records with no natural one: a per-process prefix and a counter
        self._auto_prefix = f"auto:{uuid.uuid4().hex}:"
        self._auto_counter = 0

    @asynccontextmanager
    async def running(self) -> AsyncIterator[IntakeWriter]:
        self._task = asyncio.create_task(self._run(), name="intake-writer")
        try:
            yield self
        finally:
            await self._drain_and_stop()

    def active_within(self, seconds: float) -> bool:
        """Whether a sender asked for a commit in the last ``seconds``."""
        return time.monotonic() - self._last_commit < seconds

    def load(self) -> float:
        """The share of the last second or so spent committing (0 to 1): near 1, senders
        wait for each other's commits; a steady trickle keeps it low however long it lasts."""
        now = time.monotonic()
        self._roll(int(now))
        return min(1.0, (self._busy_before + self._busy_now) / (1.0 + now % 1.0))

    def _roll(self, second: int) -> None:
        if second != self._second:
            self._busy_before = self._busy_now if second == self._second + 1 else 0.0
            self._busy_now = 0.0
            self._second = second

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def waiting(self) -> bool:
        """Whether commits are queued. Safe from another thread: it reads one length."""
        return self._queue.qsize() > 0

    async def commit(self, intake: NewIntake) -> Committed:
        """Store the record durably. Raises StorageUnavailable if it was not stored (try
        again), DataRejected if the database refuses this record (it would again)."""
        if self._closing or self._task is None or self._task.done():
            raise StorageUnavailable("intake writer is not running")
        if intake.dedup_key:
            key = intake.dedup_key
        else:
            self._auto_counter += 1
            key = f"{self._auto_prefix}{self._auto_counter}"
        self.idle.clear()
        self._last_commit = time.monotonic()
        done: asyncio.Future[Committed] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(intake, key, done))
        # shield: a client that hangs up must not cancel a commit others share
        return await asyncio.shield(done)

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True  # commit what came before the stop mark
                    break
                batch.append(item)
            started = time.monotonic()
            self._held = 0.0
            await self._commit_batch(batch)
            finished = time.monotonic()
            self._roll(int(finished))
            # on SQLite, the time the commit held the shared connection: waiting for
            # it while the pipeline holds it is not intake being pressed
            self._busy_now += self._held if self._db.shares_connection else finished - started
            if self._queue.empty():
                self.idle.set()

    async def _commit_batch(self, batch: list[_Pending]) -> None:
        groups: dict[str, list[_Pending]] = {}
        for item in batch:
            groups.setdefault(item.key, []).append(item)
        outcome = await self._insert_apart(list(groups.values()))
        inserted, failed, replayed = outcome.inserted, outcome.failed, outcome.replayed
        # the item of each key that stands for it: the first that is not a replay
        firsts = {
            key: next((item for item in items if id(item) not in replayed), None)
            for key, items in groups.items()
        }
        settled = inserted.keys() | failed.keys() | {k for k, v in firsts.items() if v is None}
        try:
            existing = await self._existing_ids([key for key in groups if key not in settled])
        except StorageUnavailable as exc:
            existing = {}
            failed.update((key, exc) for key in groups if key not in settled)
        if inserted or existing:
            self.batches_committed += 1
        for item in batch:
            if item.done.done():
                continue
            error = failed.get(item.key)
            if id(item) in replayed:
                item.done.set_exception(SignatureReplayed("this signature was already accepted"))
            elif error is not None:
                item.done.set_exception(error)
            elif firsts[item.key] is item and item.key in inserted:
                item.done.set_result(Committed(inserted[item.key], duplicate=False))
            else:
                original = inserted.get(item.key) or existing.get(item.key)
                if original is None:
                    item.done.set_exception(StorageUnavailable("duplicate vanished"))
                else:
                    item.done.set_result(Committed(original, duplicate=True))

    async def _insert_apart(self, groups: list[list[_Pending]]) -> _Outcome:
        """Insert the records of ``groups`` (the items of one dedup key each): the ids of
        the rows inserted and why the others were not stored, by dedup key (a key in
        neither was already stored), and the items refused as replays.

        A record whose values cannot be committed fails alone: the batch is
        halved, and each half inserted apart, until the record at fault is
        alone; everyone else's rows go in (a few statements more per record at
        fault). When the database itself is unavailable, all of them fail.
        """
        try:
            return await self._insert(groups)
        except StorageUnavailable as exc:
            return _Outcome({}, {items[0].key: exc for items in groups}, set())
        except Exception as exc:  # noqa: BLE001 - refused values, or a bug: one record's fault
            if len(groups) == 1:
                return _Outcome({}, {groups[0][0].key: _lone_failure(groups[0][0], exc)}, set())
        middle = len(groups) // 2
        before = await self._insert_apart(groups[:middle])
        after = await self._insert_apart(groups[middle:])
        return _Outcome(
            before.inserted | after.inserted,
            before.failed | after.failed,
            before.replayed | after.replayed,
        )

    async def _insert(self, groups: list[list[_Pending]]) -> _Outcome:
        if not any(item.intake.signature for items in groups for item in items):
            return _Outcome(await self._insert_rows([items[0] for items in groups]), {}, set())
        return await run_atomic(self._db, lambda runner: self._insert_signed(runner, groups))

    async def _insert_signed(self, runner: QueryRunner, groups: list[list[_Pending]]) -> _Outcome:
        """Record the signatures of signed requests and the records whose signatures were
        new, in one transaction: a replay never stores a record, and a record that is not
        stored leaves its signature unrecorded."""
        owners: dict[tuple[str, str], _Pending] = {}  # the first request of each signature
        claims: dict[tuple[str, str], SignatureClaim] = {}
        for item in (item for items in groups for item in items):
            if item.intake.signature is not None:
                owners.setdefault(item.intake.signature.key, item)
                claims.setdefault(item.intake.signature.key, item.intake.signature)
        # one order for every transaction: two replicas recording overlapping
        # signatures then wait for each other instead of deadlocking
        recorded = await record_claims(runner, self._sql, [claims[key] for key in sorted(claims)])
        replayed: set[int] = set()
        firsts: dict[str, _Pending] = {}  # the record stored for each dedup key
        for item in (item for items in groups for item in items):
            claim = item.intake.signature
            if claim is not None and (claim.key not in recorded or owners[claim.key] is not item):
                replayed.add(id(item))
            else:
                firsts.setdefault(item.key, item)
        if not firsts:
            return _Outcome({}, {}, replayed)
        sql, values = self._insert_statement(list(firsts.values()))
        rows = await runner.execute_query_dict(f"{sql} RETURNING id, dedup_key", values)
        return _Outcome({row["dedup_key"]: int(row["id"]) for row in rows}, {}, replayed)

    def _insert_statement(self, items: list[_Pending]) -> tuple[str, list[Any]]:
        rows = self._values_clause(len(items))
        values: list[Any] = []
        for item in items:
            intake = item.intake
            values.extend(
                (
                    intake.channel.value,
                    intake.source,
                    intake.kind,
                    self._sql.time(intake.received_at),
                    item.key,
                    orjson.dumps(dict(intake.meta)).decode(),
                    intake.raw,
                    len(intake.raw),
                    "pending",
                )
            )
        sql = (
            f"INSERT INTO intake_records ({', '.join(_COLUMNS)}) VALUES {rows} "
            "ON CONFLICT (dedup_key) DO NOTHING"
        )
        return sql, values

    async def _insert_rows(self, items: list[_Pending]) -> dict[str, int]:
        """Insert in one statement; return dedup key -> id of the rows inserted."""
        sql, values = self._insert_statement(items)
        if self._db.dialect is Dialect.POSTGRES:
            returned = await write_statement(
                self._db, f"{sql} RETURNING id, dedup_key", values, "intake commit"
            )
            return {row["dedup_key"]: int(row["id"]) for row in returned}
        inserted = await insert_sqlite(self._db, "intake_records", sql, values, "intake commit")
        self._held += inserted.seconds
        if inserted.count == len(items):
            # nothing conflicted: the rows took consecutive ids, in order
            first = inserted.last - inserted.count + 1
            return {item.key: first + index for index, item in enumerate(items)}
        stored = await self._existing_ids([item.key for item in items])
        return {key: record_id for key, record_id in stored.items() if record_id > inserted.floor}

    def _values_clause(self, count: int) -> str:
        """``(?, ...), (?, ...)`` for ``count`` rows, built once per count."""
        clause = self._values_clauses.get(count)
        if clause is None:
            width = len(_COLUMNS)
            clause = ", ".join(
                f"({self._db.placeholders(width, start=1 + index * width)})"
                for index in range(count)
            )
            self._values_clauses[count] = clause
        return clause

    async def _existing_ids(self, keys: list[str]) -> dict[str, int]:
        if not keys:
            return {}
        sql = (
            "SELECT id, dedup_key FROM intake_records "
            f"WHERE dedup_key IN ({self._db.placeholders(len(keys))})"
        )
        try:
            rows = await self._db.connection.execute_query_dict(sql, keys)
        except DATABASE_ERRORS as exc:
            raise StorageUnavailable(f"duplicate lookup failed: {exc}") from exc
        return {row["dedup_key"]: int(row["id"]) for row in rows}

    async def _drain_and_stop(self) -> None:
        """Commit everything queued before the stop, then end the writer task."""
        task = self._task
        if task is None:
            return
        self._closing = True
        self._queue.put_nowait(None)
        try:
            await task
        finally:
            self._task = None
