"""The whole daemon forwarding: alert in, ticket out, kept in sync, on both engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import ConfigWriter
from tests.integration.daemon import eventually, running_daemon

ROUTE_ALL = """
settings:
  default_routes: [tickets]
"""


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook endpoint that records what it is sent."""
    received: list[dict[str, Any]] = []

    async def accept(request: web.Request) -> web.Response:
        body = await request.json()
        received.append({"key": request.headers.get("Idempotency-Key", ""), **body})
        return web.json_response({"id": f"T-{len(received)}"}, status=201)

    app = web.Application()
    app.add_routes([web.post("/tickets", accept)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/tickets", received
    finally:
        await runner.cleanup()


async def test_alert_opens_a_ticket_and_recovery_resolves_it(
    write_config: ConfigWriter,
    database_url: str,
    tmp_path: Path,
    receiver: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = receiver
    (tmp_path / "rules" / "00-routes.yaml").parent.mkdir(exist_ok=True)
    (tmp_path / "rules" / "00-routes.yaml").write_text(ROUTE_ALL)
    loaded = write_config(database_url, sinks=[{"name": "tickets", "kind": "webhook", "url": url}])
    alert = {"name": "disk full", "resource": "db1", "severity": "critical"}
    async with running_daemon(loaded) as daemon:
        assert (await daemon.post_json("/webhooks/generic", alert))[0] == 202

        async def actions() -> list[str]:
            return [item["action"] for item in received]

        await eventually(actions, lambda seen: seen == ["create"])
        created = received[0]
        assert created["incident"]["key"] == "INC-000001"
        assert created["key"] == "1:tickets:create"
        # a person acknowledges through the API: forwarded as an update
        status, _ = await daemon.post_json("/api/v1/incidents/1/acknowledge", {"author": "alice"})
        assert status == 200
        await eventually(actions, lambda seen: "update" in seen)
        update = next(item for item in received if item["action"] == "update")
        assert update["changes"]["status"] == ["new", "acknowledged"]
        assert (await daemon.post_json("/webhooks/generic", {**alert, "x": 2}))[0] == 202
        assert (await daemon.post_json("/webhooks/generic", {**alert, "status": "ok"}))[0] == 202
        seen = await eventually(actions, lambda seen: "resolve" in seen)
        assert seen[0] == "create" and seen[-1] == "resolve"
        [incident] = await daemon.incidents()
        assert incident["status"] == "resolved"
        status, dead = await daemon.get_json("/api/v1/deadletters")
        assert status == 200 and dead["items"] == []
    assert len({item["key"] for item in received}) == len(received)  # one delivery per key
