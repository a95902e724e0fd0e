"""``intake-gateway incidents list|show|ack|resolve|merge`` against a running daemon on
both engines: the filters the API offers, one incident with its events and timeline,
acknowledge and resolve changing its state and sending the follow-up to its sink (a
local receiver), with the comment, and a duplicate merged into the incident that stays;
refusals end with exit 1 and the daemon's answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import ConfigWriter
from tests.integration.cli_support import TOKEN, Cli, token_file
from tests.integration.daemon import RunningDaemon, eventually, running_daemon

RULES = """
settings:
  default_routes: [chat]
rules:
  - name: databases are urgent
    description: a database down stops work
    match: {resource: {regex: "db.*"}}
    set: {impact: 1, urgency: 1}
"""


@pytest.fixture
async def chat() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook receiver that records what the chat sink is sent."""
    received: list[dict[str, Any]] = []

    async def accept(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.add_routes([web.post("/chat", accept)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/chat", received
    finally:
        await runner.cleanup()


@pytest.fixture
async def daemon(
    write_config: ConfigWriter,
    database_url: str,
    tmp_path: Path,
    chat: tuple[str, list[dict[str, Any]]],
) -> AsyncIterator[RunningDaemon]:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "rules.yaml").write_text(RULES)
    sink = {"name": "chat", "kind": "webhook", "url": chat[0], "comment_interval_seconds": 0}
    loaded = write_config(
        database_url, http={"listen": "127.0.0.1:0", "api_token": TOKEN}, sinks=[sink]
    )
    async with running_daemon(loaded) as running:
        running.http.headers.update({"Authorization": f"Bearer {TOKEN}"})
        for resource in ("db1", "web1"):
            alert = {"name": "down", "resource": resource, "severity": "high", "summary": "down"}
            assert (await running.post_json("/webhooks/generic", alert))[0] == 202
        await eventually(running.incidents, lambda found: len(found) == 2)
        yield running


@pytest.fixture
def cli(daemon: RunningDaemon, tmp_path: Path) -> Cli:
    return Cli(daemon.base_url, token_file(tmp_path))


def _rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()[1:]]


async def test_incidents_list_filters_as_the_api_does(daemon: RunningDaemon, cli: Cli) -> None:
    by_key = {item["key"]: item for item in await daemon.incidents()}
    assert by_key["INC-000001"]["priority"] == "P1"
    assert by_key["INC-000002"]["priority"] != "P1"

    listed = await cli("incidents", "list")
    assert listed.code == 0, listed
    header = listed.out.splitlines()[0].split()
    assert header[:4] == ["KEY", "STATUS", "PRIORITY", "MAJOR"] and header[-1] == "TITLE"
    assert [row[0] for row in _rows(listed.out)] == ["INC-000002", "INC-000001"]
    assert _rows(listed.out)[1][1:3] == ["new", "P1"]

    urgent = await cli("incidents", "list", "--priority", "P1", "--status", "new,acknowledged")
    assert [row[0] for row in _rows(urgent.out)] == ["INC-000001"]
    assert (await cli("incidents", "list", "--service", "nothing")).out.splitlines()[1:] == []
    paged = await cli("incidents", "list", "--limit", "1")
    assert [row[0] for row in _rows(paged.out)] == ["INC-000002"]
    assert "more: --before 2" in paged.err
    older = await cli("incidents", "list", "--before", "2", "--json")
    assert [item["key"] for item in older.json()["items"]] == ["INC-000001"]

    bad = await cli("incidents", "list", "--status", "open")
    assert bad.code == 1
    assert "GET /api/v1/incidents: 400 bad_parameter: unknown status: open" in bad.err


async def test_incidents_show_prints_the_incident_its_events_and_timeline(
    daemon: RunningDaemon, cli: Cli
) -> None:
    shown = await cli("incidents", "show", "INC-000001")
    assert shown.code == 0, shown
    lines = shown.out.splitlines()
    assert lines[0].split() == ["key:", "INC-000001"]
    assert ["priority:", "P1"] in [line.split() for line in lines]
    events = lines.index("events (1)")
    assert lines[events + 1].split()[:3] == ["ID", "STATUS", "SEVERITY"]
    assert lines[events + 2].split()[1:6] == ["firing", "high", "generic", "down", "db1"]
    timeline = lines.index("timeline (1)")
    assert lines[timeline + 2].split()[1] == "opened"

    as_json = await cli("incidents", "show", "1", "--json")
    assert as_json.json() == (await daemon.get_json("/api/v1/incidents/1"))[1]

    missing = await cli("incidents", "show", "INC-000099")
    assert missing.code == 1
    assert "GET /api/v1/incidents/INC-000099: 404 not_found: no such incident" in missing.err


async def test_ack_and_resolve_change_the_state_and_queue_the_follow_ups(
    daemon: RunningDaemon, cli: Cli, chat: tuple[str, list[dict[str, Any]]]
) -> None:
    received = chat[1]
    await eventually(lambda: _actions(received), lambda seen: seen == ["create", "create"])

    acked = await cli("incidents", "ack", "INC-000001", "--comment", "on it", "--author", "bob")
    assert (acked.code, acked.out) == (0, "INC-000001 acknowledged\n"), acked
    incident = (await daemon.get_json("/api/v1/incidents/1"))[1]
    assert incident["status"] == "acknowledged"
    [entry] = [item for item in incident["timeline"] if item["kind"] == "acknowledged"]
    assert (entry["author"], entry["text"]) == ("bob", "on it")
    await eventually(lambda: _actions(received), lambda seen: len(seen) == 3)
    assert received[-1]["incident"]["key"] == "INC-000001"

    resolved = await cli("incidents", "resolve", "INC-000001", "-c", "fixed", "--json")
    [item] = resolved.json()["items"]
    assert (item["key"], item["status"]) == ("INC-000001", "resolved")
    assert (await daemon.get_json("/api/v1/incidents/1"))[1]["resolved_at"] is not None
    # the resolution and its comment go to the sink
    await eventually(lambda: _actions(received), lambda seen: "resolve" in seen)
    [resolve] = [item for item in received if item["action"] == "resolve"]
    assert resolve["incident"]["key"] == "INC-000001"
    await eventually(lambda: _notes(received), lambda notes: "fixed" in notes)

    # a resolved incident cannot be acknowledged: refused, the next one still is
    both = await cli("incidents", "ack", "1", "INC-000002")
    assert both.code == 1
    assert "1: POST /api/v1/incidents/1/acknowledge: 409 conflict: incident INC-000001 is " in (
        both.err
    )
    assert both.out == "INC-000002 acknowledged\n"
    assert (await daemon.get_json("/api/v1/incidents/2"))[1]["status"] == "acknowledged"

    no_token = await cli("incidents", "resolve", "INC-000002", token=False)
    assert no_token.code == 4 and "401" in no_token.err


async def test_merge_closes_the_duplicate_into_the_incident_that_stays(
    daemon: RunningDaemon, cli: Cli
) -> None:
    merged = await cli(
        "incidents", "merge", "INC-000001", "--into", "inc-000002", "-c", "one outage", "-a", "bob"
    )
    assert (merged.code, merged.out) == (0, "INC-000001 merged into INC-000002\n"), merged
    incident = (await daemon.get_json("/api/v1/incidents/1"))[1]
    assert (incident["status"], incident["merged_into"]) == ("closed", "INC-000002")
    [entry] = [item for item in incident["timeline"] if item["kind"] == "merged"]
    assert (entry["author"], entry["text"]) == ("bob", "merged into INC-000002\none outage")

    back = await cli("incidents", "merge", "2", "--into", "INC-000001")
    assert back.code == 1
    assert (
        "POST /api/v1/incidents/2/merge: 409 conflict: INC-000001 is merged into INC-000002 "
        "already: nothing to merge"
    ) in back.err
    unknown = await cli("incidents", "merge", "2", "--into", "INC-000099", "--json")
    assert unknown.code == 1 and "422 unknown_incident: no incident INC-000099" in unknown.err
    assert (await daemon.get_json("/api/v1/incidents/2"))[1]["status"] == "new"


async def _notes(received: list[dict[str, Any]]) -> str:
    return "".join(note for item in received for note in item["notes"])


async def _actions(received: list[dict[str, Any]]) -> list[str]:
    return [item["action"] for item in received]
