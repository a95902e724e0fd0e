"""On SQLite intake and the pipeline take turns on one connection: a commit waiting
for it ends the pipeline's transaction after the record at hand, and the records
not applied yet are applied later, once each."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from core.records import Channel, Event, IntakeRecord
from gateway.app import Services
from storage import models
from storage.intake import NewIntake
from tests.conftest import ConfigWriter
from tests.integration.daemon import running_daemon

Parsed = tuple[IntakeRecord, list[Event]]


class _IntakeAlwaysWaiting:
    """An intake writer with commits queued all the time."""

    idle = asyncio.Event()

    def active_within(self, seconds: float) -> bool:
        return True

    def waiting(self) -> bool:
        return True

    def load(self) -> float:
        return 1.0


async def _five_pending(services: Services) -> tuple[list[int], list[Parsed]]:
    """Five records committed and left to this test: their ids and events."""
    # the recovery loop leaves alone every record from the oldest one handed to the
    # fast path on: an id 0 handed over keeps it off these
    services.pipeline._queued.add(0)
    now = datetime.now(UTC)
    ids = []
    for number in range(5):
        body = f'{{"name": "disk {number}", "resource": "db{number}"}}'.encode()
        intake = NewIntake(Channel.HTTP, "generic", "generic", body, now, {}, None)
        ids.append((await services.writer.commit(intake)).id)
    records = await services.records.take(ids, {}, now, timedelta(seconds=30))
    parser = services.runtime.parsers["generic"]
    return ids, [(record, parser.parse(record)) for record in records]


async def _states(ids: list[int]) -> dict[int, str]:
    return {row.id: row.state for row in await models.IntakeRecordRow.filter(id__in=ids)}


async def test_a_waiting_commit_ends_the_transaction_after_one_record(
    write_config: ConfigWriter,
) -> None:
    async with running_daemon(write_config()) as daemon:
        ids, parsed = await _five_pending(daemon.services)
        pipeline = daemon.services.pipeline
        pipeline._pacer._intake = _IntakeAlwaysWaiting()

        outcomes, applied = await pipeline._apply(parsed, may_yield=True)
        assert (len(outcomes), applied) == (1, 1)
        assert await _states(ids) == {ids[0]: "processed", **{i: "pending" for i in ids[1:]}}

        # the rest, one transaction each, and nothing twice
        rest = parsed[1:]
        while rest:
            rest = rest[await pipeline._apply_chunk(rest) :]
        assert set((await _states(ids)).values()) == {"processed"}
        counts = sorted(event.count for event in await models.Event.all())
        assert counts == [1, 1, 1, 1, 1]


async def test_without_a_waiting_commit_the_whole_chunk_is_one_transaction(
    write_config: ConfigWriter,
) -> None:
    async with running_daemon(write_config()) as daemon:
        ids, parsed = await _five_pending(daemon.services)
        outcomes, applied = await daemon.services.pipeline._apply(parsed, may_yield=True)
        assert (len(outcomes), applied) == (5, 5)
        assert set((await _states(ids)).values()) == {"processed"}
