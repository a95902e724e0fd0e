"""Status webhooks back from Jira, Zammad and a generic sender, on both engines."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from core.outbox import TicketRef
from gateway.forwarding.inbound import InboundHooks
from storage import models
from storage.database import Database
from storage.outbox import OutboxStore
from storage.sync import SyncStore
from tests.integration.forwarding import T0, new_incident, sink

SINKS = [
    sink(
        name="jira",
        kind="jira",
        url="http://jira.invalid",
        token={"value": "t"},
        project="OPS",
        inbound={"secret": {"value": "jira-hook"}},
    ),
    sink(
        name="zammad",
        kind="zammad",
        url="http://zammad.invalid",
        token={"value": "t"},
        group="Users",
        customer="c@example.org",
        inbound={"secret": {"value": "zammad-hook"}},
    ),
    sink(
        name="portal",
        kind="webhook",
        url="http://portal.invalid",
        inbound={"token": {"value": "portal-token"}, "status_map": {"fixed": "resolved"}},
    ),
    sink(name="quiet", kind="webhook", url="http://quiet.invalid"),
]


@pytest.fixture
async def client(db: Database) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application()
    app.add_routes(InboundHooks(SINKS, SyncStore(db), lambda: T0).routes())
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def signed(secret: str, body: dict[str, Any], algorithm: str = "sha256") -> dict[str, Any]:
    raw = orjson.dumps(body)
    digest = hmac.new(secret.encode(), raw, getattr(hashlib, algorithm)).hexdigest()
    return {"data": raw, "headers": {"X-Hub-Signature": f"{algorithm}={digest}"}}


async def timeline(incident_id: int) -> list[tuple[str, str, str]]:
    rows = await models.TimelineEntry.filter(incident_id=incident_id).order_by("id")
    return [(row.kind, row.author, row.text) for row in rows]


def jira_event(key: str, to_status: str, category: str, **extra: Any) -> dict[str, Any]:
    return {
        "webhookEvent": "jira:issue_updated",
        "user": {"displayName": "Bob Ops"},
        "issue": {
            "key": key,
            "fields": {"status": {"name": to_status, "statusCategory": {"key": category}}},
        },
        "changelog": {"items": [{"field": "status", "toString": to_status}, *extra.values()]},
    }


async def test_jira_transition_and_assignee_update_the_incident(
    db: Database, client: TestClient[Any, Any]
) -> None:
    incident_id, key = await new_incident(db)
    await OutboxStore(db, "t").remember_ticket(incident_id, "jira", TicketRef("OPS-7"), T0)
    event = jira_event("OPS-7", "Done", "done", a={"field": "assignee", "toString": "Bob Ops"})
    answer = await client.post("/hooks/jira/jira", **signed("jira-hook", event))
    assert answer.status == 200
    assert await answer.json() == {"incident": key, "changed": ["status", "assignee"]}
    incident = await models.Incident.get(id=incident_id)
    assert incident.status == "resolved" and incident.resolved_at == T0
    assert incident.open_key is None
    kinds = [(kind, author) for kind, author, _ in await timeline(incident_id)]
    assert kinds == [("resolved", "jira:Bob Ops"), ("assigned", "jira:Bob Ops")]
    # the same webhook again changes nothing
    again = await client.post("/hooks/jira/jira", **signed("jira-hook", event))
    assert (await again.json())["changed"] == ["assignee"]


async def test_jira_needs_a_valid_signature_and_a_known_ticket(
    db: Database, client: TestClient[Any, Any]
) -> None:
    event = jira_event("OPS-99", "Done", "done")
    forged = await client.post("/hooks/jira/jira", **signed("wrong", event))
    assert forged.status == 401
    unknown = await client.post("/hooks/jira/jira", **signed("jira-hook", event))
    assert unknown.status == 404
    refused = await client.post("/hooks/jira/quiet", **signed("jira-hook", event))
    assert refused.status == 404  # no inbound section: nothing accepted
    wrong_kind = await client.post("/hooks/zammad/jira", **signed("jira-hook", event))
    assert wrong_kind.status == 404
    bad = await client.post("/hooks/jira/jira", **signed("jira-hook", {"issue": {}}))
    assert bad.status == 400


async def test_zammad_state_and_owner_by_the_key_in_the_title(
    db: Database, client: TestClient[Any, Any]
) -> None:
    incident_id, key = await new_incident(db)
    body = {
        "ticket": {
            "id": 31,
            "title": f"[{key}] disk full",
            "state": "open",
            "owner": {"firstname": "Ann", "lastname": "Lee", "login": "ann"},
            "updated_by": {"login": "ann"},
        }
    }
    answer = await client.post("/hooks/zammad/zammad", **signed("zammad-hook", body, "sha1"))
    assert answer.status == 200
    incident = await models.Incident.get(id=incident_id)
    assert incident.status == "acknowledged" and incident.acknowledged_at == T0
    assert ("assigned", "zammad:ann", "assigned to Ann Lee in zammad") in await timeline(
        incident_id
    )


async def test_generic_form_with_a_token_and_the_lifecycle_rules(
    db: Database, client: TestClient[Any, Any]
) -> None:
    incident_id, key = await new_incident(db)
    auth = {"Authorization": "Bearer portal-token"}
    none = await client.post("/hooks/generic/portal", json={"incident": key, "status": "closed"})
    assert none.status == 401
    fixed = await client.post(
        "/hooks/generic/portal",
        json={"incident": key, "status": "fixed", "author": "carol", "comment": "patched"},
        headers=auth,
    )
    assert (await fixed.json())["changed"] == ["status"]
    closed = await client.post(
        "/hooks/generic/portal?token=portal-token", json={"incident": key, "status": "closed"}
    )
    assert closed.status == 200
    reopened = await client.post(
        "/hooks/generic/portal", json={"incident": key, "status": "reopened"}, headers=auth
    )
    assert (await reopened.json())["changed"] == []  # closed is final
    incident = await models.Incident.get(id=incident_id)
    assert incident.status == "closed" and incident.closed_at == T0
    assert (await timeline(incident_id))[0] == ("resolved", "portal:carol", "patched")
    bogus = await client.post(
        "/hooks/generic/portal", json={"incident": key, "status": "exploded"}, headers=auth
    )
    assert bogus.status == 400


async def test_reopen_outside_is_refused_when_another_incident_holds_the_key(
    db: Database, client: TestClient[Any, Any]
) -> None:
    incident_id, key = await new_incident(db, "first")
    incident = await models.Incident.get(id=incident_id)
    incident.status, incident.open_key = "resolved", None
    await incident.save()
    await new_incident(db, "second", correlation_key_override=incident.correlation_key)
    auth = {"Authorization": "Bearer portal-token"}
    answer = await client.post(
        "/hooks/generic/portal", json={"incident": key, "status": "reopened"}, headers=auth
    )
    assert (await answer.json())["changed"] == []
    assert (await timeline(incident_id))[-1][0] == "reopen_refused"
