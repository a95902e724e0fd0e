"""Forwarding to Jira through the dispatcher, against a local Jira API."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from core.outbox import OutboxAction
from gateway.api.deadletters import DeadLettersApi
from storage import models
from storage.database import Database
from storage.outbox import OutboxStore
from tests.integration.daemon import eventually
from tests.integration.fakes.jira import FakeJira
from tests.integration.fakes.server import Fault
from tests.integration.forwarding import (
    FakeClock,
    RealClock,
    dispatching,
    new_incident,
    outbox_states,
    queue,
    settled,
    sink,
)


@pytest.fixture
async def jira() -> AsyncIterator[FakeJira]:
    async with FakeJira() as server:
        yield server


def jira_sink(server: FakeJira, **extra: Any) -> Any:
    os.environ["TEST_JIRA_TOKEN"] = server.token
    fields: dict[str, Any] = {
        "name": "jira",
        "kind": "jira",
        "url": server.url,
        "token": {"env": "TEST_JIRA_TOKEN"},
        "project": "OPS",
        "timeout_seconds": 0.5,
        "retry": {"base_seconds": 0.05, "cap_seconds": 0.2},
        "comment_interval_seconds": 0,
    }
    return sink(**{**fields, **extra})


async def test_lifecycle_creates_comments_updates_and_transitions_one_issue(
    db: Database, jira: FakeJira
) -> None:
    incident_id, key = await new_incident(db, "payment API down", priority="P1")
    await queue(db, incident_id, "jira", OutboxAction.CREATE, "create")
    await queue(db, incident_id, "jira", OutboxAction.COMMENT, "c1", occurrences=1)
    await queue(
        db,
        incident_id,
        "jira",
        OutboxAction.COMMENT,
        "c2",
        text="Still down",
        author="ann@example.com",
    )
    await queue(
        db,
        incident_id,
        "jira",
        OutboxAction.UPDATE,
        "u1",
        changes={"status": ["new", "acknowledged"]},
    )
    await queue(db, incident_id, "jira", OutboxAction.RESOLVE, "resolve")
    await queue(db, incident_id, "jira", OutboxAction.REOPEN, "reopen")
    async with dispatching(db, [jira_sink(jira)], RealClock()):
        states = await settled(db, 6)
    assert set(states.values()) == {"delivered"}
    (issue,) = jira.issues.values()
    assert issue.fields["summary"] == f"[{key}] payment API down"
    assert issue.fields["priority"] == {"name": "Highest"}
    assert f"intake-{key}" in issue.fields["labels"]
    assert issue.history == ["Done", "To Do"]  # resolved, then reopened, in that order
    # the two comments and the update were merged into one delivery
    merged = issue.comments[0]
    assert "1 new occurrence" in merged and "ann@example.com:\nStill down" in merged
    assert "Status: new -> acknowledged" in merged
    ref = await models.ExternalRef.get(incident_id=incident_id, sink="jira")
    assert (ref.ticket_id, ref.url) == ("OPS-1", f"{jira.url}/browse/OPS-1")


async def test_v3_sends_documents_and_a_custom_field_finds_the_issue(
    db: Database, jira: FakeJira
) -> None:
    incident_id, key = await new_incident(db)
    await queue(db, incident_id, "jira", OutboxAction.COMMENT, "c1", text="hello")
    config = jira_sink(jira, api_version=3, correlation_field="customfield_10050")
    async with dispatching(db, [config], RealClock()):
        await settled(db, 1)
    (issue,) = jira.issues.values()  # a comment with no ticket yet: looked up, then created
    assert issue.fields["customfield_10050"] == key
    assert issue.fields["description"]["type"] == "doc"
    assert issue.comments[0]["content"][0]["content"][0]["text"] == "hello"


async def test_500_then_a_timeout_hiding_success_still_makes_one_issue(
    db: Database, jira: FakeJira
) -> None:
    incident_id, _ = await new_incident(db)
    await queue(db, incident_id, "jira", OutboxAction.CREATE, "create")
    jira.fail(
        Fault("POST", "/rest/api/2/issue", status=500, body={"errorMessages": ["boom"]}),
        Fault("POST", "/rest/api/2/issue", late_seconds=1.5),  # created, answer too late
    )
    async with dispatching(db, [jira_sink(jira)], RealClock()):
        await settled(db, 1)
    assert list(jira.issues) == ["OPS-1"]
    creates = [r for r in jira.requests if r == ("POST", "/rest/api/2/issue")]
    assert len(creates) == 2  # the third attempt looked the issue up instead
    assert ("GET", "/rest/api/2/search") in jira.requests
    assert (await models.ExternalRef.get(incident_id=incident_id)).ticket_id == "OPS-1"


async def test_a_400_is_dead_lettered_at_once_with_the_answer_kept(
    db: Database, jira: FakeJira
) -> None:
    incident_id, _ = await new_incident(db)
    other_id, _ = await new_incident(db, "second", priority="P2")
    await queue(db, incident_id, "jira", OutboxAction.CREATE, "bad")
    await queue(db, other_id, "jira", OutboxAction.CREATE, "good")
    config = jira_sink(
        jira, priority_map={"P1": "Highest", "P2": "High", "P3": "Urgent!", "P4": "Low"}
    )
    async with dispatching(db, [config], RealClock()) as running:
        states = await settled(db, 2)
        await running.dispatcher.refresh_depth()
        sample = running.sample
        assert sample("intake_gateway_outbox_dead_letters", {"sink": "jira"}) == 1
        assert sample("intake_gateway_outbox_depth", {"sink": "jira"}) == 0
        outcome = {"sink": "jira", "outcome": "dead"}
        assert sample("intake_gateway_outbox_deliveries_total", outcome) == 1
        latency = "intake_gateway_outbox_delivery_latency_seconds_count"
        assert sample(latency, {"sink": "jira"}) == 1
    assert states == {"bad": "dead", "good": "delivered"}
    creates = [r for r in jira.requests if r == ("POST", "/rest/api/2/issue")]
    assert len(creates) == 2  # one each: the 400 was not retried
    (dead,) = await OutboxStore(db, "t").dead_letters()
    assert dead.last_error.startswith("HTTP 400")
    assert "Specify a valid priority" in dead.response


async def test_outage_of_ten_minutes_then_every_ticket_once_in_order(
    db: Database, jira: FakeJira
) -> None:
    clock = FakeClock()
    incidents = [await new_incident(db, f"incident {n}") for n in range(20)]
    for incident_id, _ in incidents:
        for action in (OutboxAction.CREATE, OutboxAction.RESOLVE, OutboxAction.REOPEN):
            await queue(db, incident_id, "jira", action, f"{incident_id}:{action}", now=clock.now)
    await jira.stop()
    config = jira_sink(
        jira,
        retry={"base_seconds": 5, "cap_seconds": 60},
        circuit={"failures": 3, "open_seconds": 30},
    )
    async with dispatching(db, [config], clock) as running:
        for _ in range(60):  # ten simulated minutes, in ten-second steps
            clock.advance(10)
            running.dispatcher.wake()
            await asyncio.sleep(0.05)  # real time for the lanes to act on the moved clock
        assert jira.issues == {}
        states = await outbox_states(db)
        assert set(states.values()) == {"pending"}
        # the breaker holds the lane back: open, or half-open for one probe
        assert running.sample("intake_gateway_outbox_circuit_state", {"sink": "jira"}) in (1, 2)
        retried = running.sample(
            "intake_gateway_outbox_deliveries_total", {"sink": "jira", "outcome": "retried"}
        )
        assert retried < 60  # far fewer tries than rows x steps
        await jira.start()

        async def settle() -> dict[str, str]:
            clock.advance(30)
            running.dispatcher.wake()
            return await outbox_states(db)

        await eventually(settle, lambda s: set(s.values()) == {"delivered"}, within=20)
    assert len(jira.issues) == 20
    assert all(issue.history == ["Done", "To Do"] for issue in jira.issues.values())
    refs = await models.ExternalRef.filter(sink="jira")
    assert sorted(r.incident_id for r in refs) == sorted(i for i, _ in incidents)


async def test_dead_letters_are_listed_by_the_api_and_retried_on_request(
    db: Database, jira: FakeJira
) -> None:
    incident_id, _ = await new_incident(db)
    await queue(db, incident_id, "jira", OutboxAction.CREATE, "bad")
    bad_map = {"P1": "Highest", "P2": "High", "P3": "Urgent!", "P4": "Low"}
    clock = RealClock()
    async with dispatching(db, [jira_sink(jira, priority_map=bad_map)], clock) as running:
        await settled(db, 1)
        dead_api = DeadLettersApi(OutboxStore(db, "api"), clock, running.dispatcher.wake)
        app = web.Application()
        app.add_routes(dead_api.routes())
        auth: dict[str, str] = {}  # authorisation is gateway.api.routes's middleware, tested there
        async with TestClient(TestServer(app)) as client:
            listed = await (await client.get("/api/v1/deadletters?sink=jira", headers=auth)).json()
            (item,) = listed["items"]
            assert (item["action"], item["attempts"]) == ("create", 1)
            assert "Specify a valid priority" in item["response"]
            creates_before = jira.requests.count(("POST", "/rest/api/2/issue"))
            # nothing retries a dead letter by itself
            running.dispatcher.wake()
            await asyncio.sleep(0.2)
            assert jira.requests.count(("POST", "/rest/api/2/issue")) == creates_before
            retried = await client.post(f"/api/v1/deadletters/{item['id']}/retry", headers=auth)
            assert retried.status == 202
            missing = await client.post("/api/v1/deadletters/999/retry", headers=auth)
            assert missing.status == 404
            await eventually(
                lambda: models.OutboxRow.get(idempotency_key="bad"),
                lambda row: row.state == "dead" and row.attempts == 1 and row.id == item["id"],
            )
    assert jira.requests.count(("POST", "/rest/api/2/issue")) == creates_before + 1
