"""The pipeline worker: committed intake records -> events -> decisions -> rows.

Adapters hand over the ids they committed (the fast path); a recovery loop
picks up anything left pending (records committed before a crash, or by a
replica that died). Parsing runs in a thread for large records so a hostile
message never holds the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from core.errors import DataRejected, ParseError, StorageUnavailable, WriteConflict
from core.records import Event, IntakeRecord
from gateway.background import background
from gateway.intake.mailintake import MAIL_KIND
from gateway.metrics import Metrics
from gateway.processing.applier import Applier, EventTally
from gateway.processing.handed import HandedOver
from gateway.processing.pacing import IDLE_EVENTS, IntakeActivity, IntakePacer
from gateway.processing.parsepool import Outcome, ParsePool
from parsers.base import Parser
from rules.decision import RuleSet
from storage import Database, IncidentStore, RecordStore

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
# an event's outcome, and the priority of the incident it opened (None: it opened none)

_CONFLICT_RETRIES = 5
# a claim covers one batch being processed; a dead replica's claims expire after this
_CLAIM_LEASE = timedelta(seconds=30)
_RETRY_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    batch_size: int = 256
    recovery_interval_seconds: float = 5.0
    thread_parse_bytes: int = 64 * 1024
    # while intake is committing, wait up to this long before the next batch:
    # acknowledging senders comes first, correlation may lag a little
    max_defer_seconds: float = 0.25
    # while senders keep coming, the share of the loop's time correlation may take
    busy_share: float = 0.2
    # worker processes that parse mail; 0 parses it in the daemon's own process
    parse_workers: int = 0
    parse_worker_nice: int = 10


class Pipeline:
    def __init__(
        self,
        *,
        db: Database,
        records: RecordStore,
        incidents: IncidentStore,
        parsers: Callable[[], Mapping[str, Parser]],
        ruleset: Callable[[], RuleSet],
        metrics: Metrics,
        clock: Clock,
        settings: PipelineSettings,
        intake: IntakeActivity | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._pacer = IntakePacer(
            intake,
            batch_size=settings.batch_size,
            max_defer_seconds=settings.max_defer_seconds,
            busy_share=settings.busy_share,
        )
        # tells the outbox dispatcher that new forwarding work may be waiting
        self._on_commit = on_commit
        self._db = db
        self._records = records
        self._incidents = incidents
        self._applier = Applier(db, records, incidents, metrics)
        self._parsers = parsers
        self._ruleset = ruleset
        self._metrics = metrics
        self._clock = clock
        self._settings = settings
        self._ready: asyncio.Queue[int] = asyncio.Queue()
        # ids handed over and not yet applied (queued, or in a round of the fast path)
        self._queued: set[int] = set()
        # records as the edge committed them, and the events it parsed while validating
        self._handed = HandedOver()
        # records one loop (fast path or recovery) is applying: the other skips them
        self._in_flight: set[int] = set()
        self.heartbeat = time.monotonic()
        self.processed = 0
        self._pool = (
            ParsePool(settings.parse_workers, settings.parse_worker_nice)
            if settings.parse_workers > 0
            else None
        )

    def notify(self, record: IntakeRecord, events: list[Event] | None = None) -> None:
        """A record was committed and acknowledged: process it soon."""
        self._handed.keep(record, events)
        self._queued.add(record.id)
        self._ready.put_nowait(record.id)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Pipeline]:
        released = await self._records.release_all_claims()
        if released:
            log.info("stale_claims_released", records=released)
        async with AsyncExitStack() as stack:
            if self._pool is not None:
                await stack.enter_async_context(self._pool.running())
            fast = background(self._fast_path(), "pipeline-fast")
            async with fast, background(self._recovery(), "pipeline-recovery"):
                yield self

    async def drain(self, deadline: float) -> None:
        """Finish records already handed over, until ``deadline`` (monotonic).

        Whatever is not finished stays pending in storage and is picked up
        by the recovery loop at the next start: draining is a courtesy, not
        what keeps intake safe.
        """
        remaining = deadline - time.monotonic()
        if remaining > 0:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._ready.join(), remaining)

    async def _fast_path(self) -> None:
        while True:
            first = await self._ready.get()
            ids = [first]
            limit = self._pacer.batch_limit()
            while len(ids) < limit and not self._ready.empty():
                ids.append(self._ready.get_nowait())
            try:
                await self._pacer.defer()
                await self._round(ids)
            finally:
                for _ in ids:
                    self._ready.task_done()

    async def _recovery(self) -> None:
        while True:
            self.heartbeat = time.monotonic()
            with suppress(StorageUnavailable):
                self._metrics.pipeline_pending.set(await self._records.pending_count())
            await self._pacer.defer()
            done = await self._round(None)
            if done == 0:  # nothing left over: look again later
                await asyncio.sleep(self._settings.recovery_interval_seconds)

    async def _round(self, ids: list[int] | None) -> int:
        """One claim-and-process round; storage faults are logged, never fatal."""
        unfinished: list[int] = list(ids or ())
        try:
            now = self._clock()
            if ids is not None:
                taken = await self._records.take(ids, self._handed.records, now, _CLAIM_LEASE)
            else:
                taken = await self._records.claim(
                    None, self._pacer.batch_limit(), now, _CLAIM_LEASE, leave=self._queued
                )
            records = [record for record in taken if record.id not in self._in_flight]
            unfinished = [record.id for record in records]
            self._in_flight.update(unfinished)
            try:
                await self._process_batch(records)
            finally:
                self._in_flight.difference_update(record.id for record in records)
            unfinished = []
            if ids is not None:
                for record_id in ids:  # applied now, or elsewhere before
                    self._forget(record_id)
            self.heartbeat = time.monotonic()
            self._metrics.database_up.set(1)
            return len(records)
        except StorageUnavailable as exc:
            self._metrics.database_up.set(0)
            log.warning("pipeline_storage_unavailable", error=str(exc))
            # our claims on these would block the recovery loop until the lease
            # ends: retry them here once the database answers again
            asyncio.get_running_loop().call_later(_RETRY_SECONDS, self._requeue, unfinished)
            return 0

    def _requeue(self, ids: list[int]) -> None:
        for record_id in ids:
            self._ready.put_nowait(record_id)

    async def _process_batch(self, records: list[IntakeRecord]) -> None:
        """Parse each record, then apply them all in one transaction.

        One commit (one fsync) for a whole batch keeps the pipeline ahead of
        an alert storm. If the batch conflicts with another writer or a
        record trips over something unexpected, each record is applied on
        its own so that one cannot hold back the others.
        """
        # mail goes to the parse workers (one task per worker), the rest is parsed here
        results = await self._parse_records(records)
        parsed = [
            (record, events)
            for record, events in zip(records, results, strict=True)
            if events is not None
        ]
        for chunk in self._pacer.chunks(parsed):
            while chunk:
                started = time.perf_counter()
                chunk = chunk[await self._apply_chunk(chunk) :]
                await self._pacer.pace(time.perf_counter() - started)
                await self._pacer.defer()

    async def _apply_chunk(self, parsed: list[tuple[IntakeRecord, list[Event]]]) -> int:
        """Apply the records in one transaction; how many of them (from the first) it
        applied: the rest, if any, waited while intake took the connection."""
        try:
            budget = self._pacer.events_per_transaction()
            outcomes, applied = await self._apply(
                parsed, may_yield=self._db.shares_connection, budget=budget
            )
        except (WriteConflict, DataRejected):  # the record at fault is found below
            outcomes = None
        except StorageUnavailable:
            raise
        except Exception:  # isolate the record at fault below
            log.exception("batch_apply_failed", records=len(parsed))
            outcomes = None
        if outcomes is None:
            for record, events in parsed:
                await self._apply_alone(record, events)
            return len(parsed)
        self._count(parsed[:applied], outcomes)
        if self._on_commit is not None:
            self._on_commit()
        return applied

    async def _parse_records(self, records: list[IntakeRecord]) -> list[list[Event] | None]:
        """Each record's events; None for a record that failed (marked so, with why).

        Mail goes to the parse workers, the whole batch at once; the rest is
        parsed here (or was already, at the webhook edge).
        """
        pooled: dict[int, Outcome] = {}
        if self._pool is not None:
            parsers = self._parsers()
            mail = [
                (parser, record)
                for record in records
                if record.kind == MAIL_KIND
                and not self._handed.parsed(record.id)
                and (parser := parsers.get(record.source)) is not None
            ]
            if mail:
                outcomes = await self._pool.parse_many(mail)
                pooled = {
                    record.id: outcome for (_, record), outcome in zip(mail, outcomes, strict=True)
                }
        return [await self._parse_or_fail(record, pooled.get(record.id)) for record in records]

    async def _parse_or_fail(
        self, record: IntakeRecord, ready: Outcome | None = None
    ) -> list[Event] | None:
        bound = log.bind(intake_id=record.id, source=record.source, kind=record.kind)
        try:
            if isinstance(ready, Exception):
                raise ready
            return ready if ready is not None else await self._parse(record)
        except ParseError as exc:
            bound.info("record_unparseable", reason=exc.reason, error=str(exc))
            await self._fail(record, f"{exc.reason}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one bad record must not stop the pipeline
            bound.exception("parser_crashed")
            await self._fail(record, f"parser_error: {exc!r}")
        return None

    async def _apply_alone(self, record: IntakeRecord, events: list[Event]) -> None:
        bound = log.bind(intake_id=record.id, source=record.source, kind=record.kind)
        attempt = 0
        while attempt < _CONFLICT_RETRIES:
            try:
                outcomes, whole = await self._apply([(record, events)])
            except WriteConflict:
                # another writer created the same event or incident first:
                # evaluate again against the state it left
                bound.debug("apply_conflict_retry", attempt=attempt)
                attempt += 1
                continue
            except StorageUnavailable:
                raise
            except DataRejected as exc:
                # this record's rows, not the database: it fails, the others go on
                bound.warning("record_refused_by_database", error=str(exc))
                await self._fail(record, f"data_error: {exc}")
                return
            except Exception as exc:  # noqa: BLE001 - keep the record, with why, for inspection
                bound.exception("apply_failed")
                await self._fail(record, f"apply_error: {exc!r}")
                return
            self._count([(record, events)][:whole], outcomes)
            if self._on_commit is not None:
                self._on_commit()
            if whole:
                return
            # a part of a big record is in: the rest follows
        await self._fail(record, "conflict: could not apply after retries")

    def _count(
        self, parsed: list[tuple[IntakeRecord, list[Event]]], outcomes: list[EventTally]
    ) -> None:
        for outcome, opened in outcomes:
            self._metrics.events.labels(outcome).inc()
            if opened is not None:
                self._metrics.incidents_opened.labels(opened).inc()
        if not parsed:  # a part of a record: it counts once it is whole
            return
        now = self._clock()
        for record, _ in parsed:
            self.processed += 1
            self._metrics.records_processed.labels(record.kind, "processed").inc()
        newest = parsed[-1][0]
        self._metrics.pipeline_lag.set(max(0.0, (now - newest.received_at).total_seconds()))

    def _forget(self, record_id: int) -> None:
        self._handed.forget(record_id)
        self._queued.discard(record_id)

    async def _parse(self, record: IntakeRecord) -> list[Event]:
        cached = self._handed.take_events(record.id)
        if cached is not None:
            return cached
        parser = self._parsers().get(record.source)
        if parser is None:
            raise ParseError(
                "unknown_source", f"no integration or mailbox named {record.source!r} is configured"
            )
        if len(record.raw) > self._settings.thread_parse_bytes:
            return await asyncio.to_thread(parser.parse, record)
        return parser.parse(record)

    async def _apply(
        self,
        parsed: list[tuple[IntakeRecord, list[Event]]],
        *,
        may_yield: bool = False,
        budget: int = IDLE_EVENTS,
    ) -> tuple[list[EventTally], int]:
        """Apply in one transaction (a big record in parts, see applier.py)."""
        return await self._applier.apply(
            parsed,
            self._ruleset(),
            self._clock(),
            intake=self._pacer.intake if may_yield else None,
            budget=budget,
        )

    async def _fail(self, record: IntakeRecord, error: str) -> None:
        self._metrics.records_processed.labels(record.kind, "failed").inc()
        await self._records.mark_failed(record.id, error, self._clock())
