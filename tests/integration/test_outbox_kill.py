"""kill -9 of a process dispatching 1,000 rows: after a restart, one ticket per incident."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from core.outbox import OutboxAction
from storage import models
from storage.database import Database, DatabaseSettings
from storage.migrations import migrate
from tests.integration.daemon import eventually
from tests.integration.fakes.jira import FakeJira
from tests.integration.fakes.server import Fault
from tests.integration.fakes.servicenow import FakeServiceNow
from tests.integration.forwarding import new_incident, queue

INCIDENTS = 500  # x 2 sinks = 1,000 rows
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.slow


async def _prepare(url: str) -> None:
    db = Database(DatabaseSettings(url=url))
    await db.open()
    await migrate(db)
    try:
        for _ in range(INCIDENTS):
            incident_id, _key = await new_incident(db)
            for name in ("jira", "snow"):
                await queue(db, incident_id, name, OutboxAction.CREATE, f"{incident_id}:{name}")
    finally:
        await db.close()


async def _worker(url: str, jira: FakeJira, snow: FakeServiceNow) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.outbox_worker",
        url,
        jira.url,
        snow.url,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    while (await asyncio.wait_for(process.stdout.readline(), 30)).strip() != b"running":
        pass  # log lines before it
    return process


def _tickets(jira: FakeJira, snow: FakeServiceNow) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        return len(jira.issues) + len(snow.records)

    return count


async def test_kill_9_mid_dispatch_then_restart_makes_one_ticket_per_incident(
    database_url: str,
) -> None:
    await _prepare(database_url)
    async with FakeJira() as jira, FakeServiceNow() as snow:
        # every create is done at once but answered late: a kill lands between the two
        for server, path in ((jira, "/rest/api/2/issue"), (snow, "/api/now/table/incident")):
            server.fail(*(Fault("POST", path, late_seconds=0.05) for _ in range(INCIDENTS)))
        first = await _worker(database_url, jira, snow)
        await eventually(_tickets(jira, snow), lambda count: count >= 400, within=60)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        killed_at = (len(jira.issues), len(snow.records))
        assert killed_at[0] < INCIDENTS or killed_at[1] < INCIDENTS  # it died mid-way
        second = await _worker(database_url, jira, snow)
        assert await asyncio.wait_for(second.wait(), 120) == 0
        # creates in flight at the kill were looked up, not sent again
        lookups = jira.requests.count(("GET", "/rest/api/2/search"))
        lookups += snow.requests.count(("GET", "/api/now/table/incident"))
        assert lookups > 0

    db = Database(DatabaseSettings(url=database_url))
    await db.open()
    try:
        states = Counter(row.state for row in await models.OutboxRow.all())
        refs = await models.ExternalRef.all()
        incident_keys = {row.key for row in await models.Incident.all()}
    finally:
        await db.close()
    assert states == Counter({"delivered": 2 * INCIDENTS})
    jira_keys = Counter(label for i in jira.issues.values() for label in i.fields["labels"])
    assert len(jira.issues) == INCIDENTS
    assert set(jira_keys.values()) == {1}
    assert {label.removeprefix("intake-") for label in jira_keys} == incident_keys
    snow_keys = Counter(record["correlation_id"] for record in snow.records.values())
    assert len(snow.records) == INCIDENTS and set(snow_keys.values()) == {1}
    assert set(snow_keys) == incident_keys
    assert len(refs) == 2 * INCIDENTS
