"""A person's change and the pipeline's update of the same incident, interleaved.

The pipeline decides from the incident it loaded and writes the incident's
status back. If a person acknowledges the incident between that load and
that write (another transaction, another replica), the acknowledgement must
survive: the pipeline either sees it or waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.records import Event, EventStatus, Severity
from rules.engine import CompiledRuleSet
from rules.loader import load_ruleset
from storage import models
from storage.actions import Actions
from storage.database import Database, DatabaseSettings
from storage.incident_state import active_silences
from storage.incidents import IncidentStore
from storage.migrations import migrate

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _event(summary: str) -> Event:
    return Event(
        source="generic",
        kind="generic",
        name="disk",
        resource="db1",
        severity=Severity.HIGH,
        status=EventStatus.FIRING,
        summary=summary,
        occurred_at=T0,
    )


@pytest.fixture
async def db(postgres_url: str, tmp_path: Path) -> AsyncIterator[tuple[Database, CompiledRuleSet]]:
    (tmp_path / "rules").mkdir()
    ruleset = load_ruleset(tmp_path / "rules", None)
    database = Database(DatabaseSettings(url=postgres_url, pool_size=4))
    await database.open()
    await migrate(database)
    try:
        yield database, ruleset
    finally:
        await database.close()


async def _apply(db: Database, ruleset: CompiledRuleSet, event: Event, now: datetime) -> None:
    store = IncidentStore(db)
    async with db.transaction() as connection:
        lookup = ruleset.lookup(event, now)
        state = await store.load_state(
            connection, lookup, await active_silences(connection, store.sql, now)
        )
        await store.apply(connection, event, ruleset.evaluate(event, state, now), state, None, now)


async def test_an_acknowledgement_between_load_and_write_is_kept(
    db: tuple[Database, CompiledRuleSet],
) -> None:
    database, ruleset = db
    await _apply(database, ruleset, _event("disk full"), T0)
    incident = await models.Incident.all().get()
    store = IncidentStore(database)
    now = T0 + timedelta(minutes=1)
    loaded = asyncio.Event()

    async def acknowledge_when_loaded() -> None:
        await loaded.wait()
        await Actions(database).acknowledge(str(incident.id), "alice", "on it", now, None)

    # started before the pipeline's transaction: a transaction is the connection
    # of what its own task awaits, and the person works through another one
    person = asyncio.create_task(acknowledge_when_loaded())
    repeat = _event("disk still full")
    async with database.transaction() as connection:
        lookup = ruleset.lookup(repeat, now)
        silences = await active_silences(connection, store.sql, now)
        state = await store.load_state(connection, lookup, silences)
        assert state.incident is not None and state.incident.status.value == "new"
        loaded.set()
        # the person's transaction commits now, unless it waits for this one
        await asyncio.wait({person}, timeout=1.0)
        await store.apply(
            connection, repeat, ruleset.evaluate(repeat, state, now), state, None, now
        )
    await asyncio.wait_for(person, 10)
    incident = await models.Incident.get(id=incident.id)
    assert incident.status == "acknowledged", "the pipeline wrote back the status it had loaded"
    assert incident.event_count == 2
