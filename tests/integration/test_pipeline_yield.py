"""On SQLite intake and the pipeline take turns on one connection: a commit waiting
for it ends the pipeline's transaction after the record at hand, and the records
not applied yet are applied later, once each."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from gateway.pipeline import Pipeline
from parsers.records import Channel
from storage import models
from storage.intake import NewIntake
from tests.conftest import ConfigWriter
from tests.integration.daemon import running_daemon


class _IntakeAlwaysWaiting:
    """An intake writer with commits queued all the time."""

    idle = asyncio.Event()

    def active_within(self, seconds: float) -> bool:
        return True

    def waiting(self) -> bool:
        return True


def _keep_recovery_away(pipeline: Pipeline) -> None:
    """The recovery loop leaves alone every record from the oldest one handed to the
    fast path on: an id 0 handed over keeps it off the records of these tests."""
    pipeline._queued.add(0)


async def test_a_waiting_commit_ends_the_transaction_after_one_record(
    write_config: ConfigWriter,
) -> None:
    async with running_daemon(write_config()) as daemon:
        services = daemon.services
        _keep_recovery_away(services.pipeline)
        now = datetime.now(UTC)
        ids = []
        for number in range(5):
            body = f'{{"name": "disk {number}", "resource": "db{number}"}}'.encode()
            intake = NewIntake(Channel.HTTP, "generic", "generic", body, now, {}, None)
            ids.append((await services.writer.commit(intake)).id)
        records = await services.records.take(ids, {}, now, timedelta(seconds=30))
        parser = services.runtime.parsers["generic"]
        parsed = [(record, parser.parse(record)) for record in records]
        pipeline = services.pipeline
        pipeline._intake = _IntakeAlwaysWaiting()

        outcomes, applied = await pipeline._apply(parsed, may_yield=True)
        assert (len(outcomes), applied) == (1, 1)
        states = {row.id: row.state for row in await models.IntakeRecordRow.filter(id__in=ids)}
        assert states == {ids[0]: "processed", **{i: "pending" for i in ids[1:]}}

        # the rest, one transaction each, and nothing twice
        rest = parsed[1:]
        while rest:
            rest = rest[await pipeline._apply_chunk(rest) :]
        states = {row.id: row.state for row in await models.IntakeRecordRow.filter(id__in=ids)}
        assert set(states.values()) == {"processed"}
        counts = sorted(event.count for event in await models.Event.all())
        assert counts == [1, 1, 1, 1, 1]


async def test_without_a_waiting_commit_the_whole_chunk_is_one_transaction(
    write_config: ConfigWriter,
) -> None:
    async with running_daemon(write_config()) as daemon:
        services = daemon.services
        _keep_recovery_away(services.pipeline)
        now = datetime.now(UTC)
        ids = []
        for number in range(5):
            body = f'{{"name": "disk {number}", "resource": "db{number}"}}'.encode()
            intake = NewIntake(Channel.HTTP, "generic", "generic", body, now, {}, None)
            ids.append((await services.writer.commit(intake)).id)
        records = await services.records.take(ids, {}, now, timedelta(seconds=30))
        parser = services.runtime.parsers["generic"]
        outcomes, applied = await services.pipeline._apply(
            [(record, parser.parse(record)) for record in records], may_yield=True
        )
        assert (len(outcomes), applied) == (5, 5)
