"""An alert incident through its life on both engines, through the real listeners: a
mail reply through the SMTP listener is a comment (not an alert, so the recovery posted
over HTTP still resolves the incident), the pending resolution is visible during the
hold-down, and every follow-up reaches every sink of the incident (captured by a local
aiohttp receiver)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from storage import models
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.mail_support import MAILBOXES, message, send_mail, smtp_section

ALERT = {"name": "disk full", "resource": "db1", "severity": "critical", "summary": "/ at 99%"}
RECOVERED = {**ALERT, "status": "ok"}
RULES = """
settings:
  default_routes: [helpdesk]
  resolve_hold_down: {hold_down}
  close_after: 1s
{extra}rules:
  - name: disk
    description: disk alerts go to the chat
    match: {{kind: generic}}
    routes: [chat]
"""

Received = dict[str, list[dict[str, Any]]]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, Received]]:
    """Webhook endpoints, one path per sink, that record what each is sent."""
    received: Received = {}

    async def accept(request: web.Request) -> web.Response:
        received.setdefault(request.match_info["sink"], []).append(await request.json())
        return web.json_response({}, status=200)

    app = web.Application()
    app.add_routes([web.post("/{sink}", accept)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", received
    finally:
        await runner.cleanup()


@dataclass
class Setup:
    write_config: ConfigWriter
    database_url: str
    tmp_path: Path
    url: str
    received: Received

    @asynccontextmanager
    async def running(self, hold_down: str = "1s", extra: str = "") -> AsyncIterator[RunningDaemon]:
        """The daemon with an alert already open as INC-000001; ``extra``: more settings."""
        (self.tmp_path / "rules").mkdir(exist_ok=True)
        rules = RULES.format(hold_down=hold_down, extra=extra)
        (self.tmp_path / "rules" / "00-rules.yaml").write_text(rules)
        sinks = [
            {"name": name, "kind": "webhook", "url": f"{self.url}/{name}"}
            | {"comment_interval_seconds": 0}
            for name in ("chat", "helpdesk", "legacy")
        ]
        loaded = self.write_config(
            self.database_url,
            smtp=smtp_section(),
            mailboxes=MAILBOXES,
            sinks=sinks,
            pipeline={"recovery_interval_seconds": 0.2, "periodic_interval_seconds": 0.2},
        )
        async with running_daemon(loaded) as daemon:
            assert (await daemon.post_json("/webhooks/generic", ALERT))[0] == 202
            await eventually(daemon.incidents, lambda items: len(items) == 1)
            yield daemon


@pytest.fixture
def setup(
    write_config: ConfigWriter,
    database_url: str,
    tmp_path: Path,
    receiver: tuple[str, Received],
) -> Setup:
    return Setup(write_config, database_url, tmp_path, *receiver)


async def _reply(daemon: RunningDaemon, key: str) -> None:
    raw = message(
        f"RE: [{key}] disk full",
        message_id="<reply-1@client.example>",
        sender="bob@client.example",
        body="I am on it, clearing old logs.",
    )
    await send_mail(daemon, "bob@client.example", raw)


async def _incident(daemon: RunningDaemon, ident: str = "1") -> dict[str, Any]:
    status, body = await daemon.get_json(f"/api/v1/incidents/{ident}")
    assert status == 200, body
    return dict(body)


def _actions(received: Received, sink: str) -> list[str]:
    return [item["action"] for item in received.get(sink, [])]


async def _each_sink_got(received: Received, actions: set[str]) -> None:
    async def seen() -> dict[str, set[str]]:
        return {sink: set(_actions(received, sink)) for sink in ("chat", "helpdesk", "legacy")}

    await eventually(seen, lambda found: all(actions <= got for got in found.values()))


async def test_a_mail_reply_is_a_comment_and_the_recovery_still_resolves_the_incident(
    setup: Setup,
) -> None:
    async with setup.running() as daemon:
        await _reply(daemon, "INC-000001")

        async def commented() -> dict[str, Any]:
            return await _incident(daemon)

        # the row and its timeline are read one after the other: wait for both
        incident = await eventually(
            commented,
            lambda found: (
                found["event_count"] == 2 and any(e["kind"] == "comment" for e in found["timeline"])
            ),
        )
        assert incident["firing_events"] == 1  # the alert; the reply is not one
        statuses = {event["kind"]: event["status"] for event in incident["events"]}
        assert statuses == {"generic": "firing", "email": "comment"}
        status, page = await daemon.get_json("/api/v1/events?status=firing")
        assert status == 200 and [item["kind"] for item in page["items"]] == ["generic"]
        assert incident["resolve_after"] is None

        assert (await daemon.post_json("/webhooks/generic", RECOVERED))[0] == 202
        pending = await eventually(commented, lambda found: found["resolve_after"] is not None)
        assert pending["status"] == "new"  # held down, with the time it will resolve
        [entry] = [item for item in pending["timeline"] if item["kind"] == "resolve_pending"]
        due = pending["resolve_after"]
        assert entry["text"] == (
            f"all alerts recovered; resolving at {due[:19]}Z unless one fires again"
        )
        assert datetime.fromisoformat(due) > datetime.now(UTC)

        resolved = await eventually(commented, lambda found: found["status"] == "resolved")
        assert resolved["resolve_after"] is None and resolved["firing_events"] == 0


async def test_an_alert_firing_again_calls_off_the_pending_resolution(setup: Setup) -> None:
    async with setup.running(hold_down="1h") as daemon:
        assert (await daemon.post_json("/webhooks/generic", RECOVERED))[0] == 202
        held = await eventually(
            lambda: _incident(daemon), lambda found: found["resolve_after"] is not None
        )
        assert held["status"] == "new"
        # not the same body again (that would be a re-delivery): the alert fires anew
        assert (await daemon.post_json("/webhooks/generic", {**ALERT, "x": 2}))[0] == 202
        again = await eventually(
            lambda: _incident(daemon), lambda found: found["resolve_after"] is None
        )
        kinds = [item["kind"] for item in again["timeline"]]
        assert kinds[-2:] == ["resolve_pending", "resolve_cancelled"]
        assert again["status"] == "new" and again["firing_events"] == 1


async def test_follow_ups_reach_every_sink_of_the_incident(setup: Setup) -> None:
    received = setup.received
    async with setup.running() as daemon:
        await eventually(lambda: asyncio.sleep(0, _actions(received, "chat")), ["create"].__eq__)
        # a ticket another sink holds (opened there by an escalation or a fallback)
        await models.ExternalRef.create(
            incident_id=1, sink="legacy", ticket_id="L-7", created_at=datetime.now(UTC)
        )

        # the reply's own route (the default, helpdesk) is new: it joins the incident's sinks
        await _reply(daemon, "INC-000001")
        await _each_sink_got(received, {"comment"})
        comment = next(item for item in received["chat"] if item["action"] == "comment")
        assert "clearing old logs" in "".join(comment["notes"])

        # a person's acknowledgement through the API, then the hold-down resolution and the
        # closure of the periodic job: each reaches every sink
        status, _ = await daemon.post_json("/api/v1/incidents/1/acknowledge", {"author": "ann"})
        assert status == 200
        assert (await daemon.post_json("/webhooks/generic", RECOVERED))[0] == 202
        await _each_sink_got(received, {"update", "resolve", "close"})
        assert _actions(received, "chat")[0] == "create"
        assert "create" not in _actions(received, "legacy")
        assert "create" not in _actions(received, "helpdesk")


async def test_a_persons_acknowledge_and_resolve_reach_every_sink_of_the_incident(
    setup: Setup,
) -> None:
    received = setup.received
    async with setup.running(hold_down="1h") as daemon:
        await eventually(lambda: asyncio.sleep(0, _actions(received, "chat")), ["create"].__eq__)
        await models.ExternalRef.create(
            incident_id=1, sink="legacy", ticket_id="L-7", created_at=datetime.now(UTC)
        )
        status, _ = await daemon.post_json("/api/v1/incidents/1/acknowledge", {"author": "ann"})
        assert status == 200

        def changes(sink: str) -> list[Any]:
            updates = [item for item in received.get(sink, []) if item["action"] == "update"]
            return [item["changes"] for item in updates]

        await eventually(
            lambda: asyncio.sleep(0, [changes("chat"), changes("legacy")]),
            lambda found: all(any(c.get("status") == ["new", "acknowledged"] for c in got)
                              for got in found),
        )  # fmt: skip
        status, _ = await daemon.post_json("/api/v1/incidents/1/resolve", {"author": "ann"})
        assert status == 200
        await eventually(
            lambda: asyncio.sleep(0, [_actions(received, s) for s in ("chat", "legacy")]),
            lambda found: all("resolve" in got for got in found),
        )
        assert "helpdesk" not in received  # not a sink of the incident: no route, no ticket


FLAPPING = "  flapping: {transitions: 2, window: 6s, clear_at: 1}\n"


async def test_a_flapping_hold_is_on_the_timeline_when_it_starts_and_ends(setup: Setup) -> None:
    async with setup.running(hold_down="1h", extra=FLAPPING) as daemon:
        # firing, then ok, firing, ok: the third change within 6 s starts the hold
        for number, body in enumerate((RECOVERED, ALERT, RECOVERED), start=2):
            assert (await daemon.post_json("/webhooks/generic", {**body, "x": number}))[0] == 202
            await eventually(lambda: _occurrences(daemon), number.__eq__)
        held = await _incident(daemon)
        [entry] = [item for item in held["timeline"] if item["kind"] == "flapping"]
        assert entry["text"].startswith("disk full on db1 is flapping (more than 2 changes in 6s)")
        assert held["status"] == "new"
        # quiet for longer than the window: one change is calm enough to end the hold
        await asyncio.sleep(6.5)
        assert (await daemon.post_json("/webhooks/generic", {**ALERT, "x": 5}))[0] == 202
        calm = await eventually(
            lambda: _incident(daemon),
            lambda found: any(item["kind"] == "flapping_ended" for item in found["timeline"]),
        )
        kinds = [item["kind"] for item in calm["timeline"] if item["kind"].startswith("flapping")]
        assert kinds == ["flapping", "flapping_ended"]
        [ended] = [item for item in calm["timeline"] if item["kind"] == "flapping_ended"]
        assert ended["text"] == "disk full on db1 has calmed down and is no longer held"


async def _occurrences(daemon: RunningDaemon) -> int:
    status, body = await daemon.get_json("/api/v1/events?limit=50")
    assert status == 200, body
    return sum(int(event["count"]) for event in body["items"])
