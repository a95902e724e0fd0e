"""Explain, rules and dead letters through the real HTTP listener, on both engines:
why an alert was held (the silence), its raw record as text, the rule that matched
with file:line; the "try it" box decides without storing; a dead letter with the
sink's answer, retried by an admin only."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from storage import audit
from tests.conftest import ConfigWriter
from tests.integration.console_support import console_section, log_in, page_csrf, person_client
from tests.integration.daemon import RunningDaemon, eventually, running_daemon

RULES = """\
settings:
  default_routes: [tickets]

rules:
  - name: database-disks
    description: disks of the database hosts go to the DBAs
    match:
      resource: db1
    set:
      assignment_group: dba
"""
ALERT = {"name": "disk full", "resource": "db1", "severity": "critical", "summary": "<b>99%</b>"}


@pytest.fixture
async def refusing_sink() -> AsyncIterator[str]:
    """A ticket system that refuses every ticket: 400, so each row dies at once."""

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": "field 'team' is required"}, status=400)

    app = web.Application()
    app.add_routes([web.post("/tickets", refuse)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/tickets"
    finally:
        await runner.cleanup()


async def _events(daemon: RunningDaemon) -> list[dict[str, Any]]:
    return list((await daemon.get_json("/api/v1/events"))[1]["items"])


async def test_explain_try_it_and_dead_letters(
    write_config: ConfigWriter, database_url: str, tmp_path: Path, refusing_sink: str
) -> None:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "10-db.yaml").write_text(RULES)
    loaded = write_config(
        database_url,
        console=console_section(),
        sinks=[{"name": "tickets", "kind": "webhook", "url": refusing_sink}],
    )
    async with running_daemon(loaded) as daemon, person_client(daemon.base_url) as client:
        assert (await daemon.post_json("/webhooks/generic", ALERT))[0] == 202
        [event] = await eventually(lambda: _events(daemon), lambda found: len(found) == 1)
        assert await log_in(client, "olga") == 303
        async with client.get(f"/ui/events/{event['id']}") as response:
            assert response.status == 200
            page = await response.text()
        assert event["fingerprint"] in page
        assert "database-disks</span> <code>10-db.yaml:5</code>" in page
        # the raw record, as text: its markup escaped, never markup of the page
        raw = page.split('<pre id="raw">')[1].split("</pre>")[0]
        assert html.escape("<b>99%</b>") in raw and "generic" not in raw.split("{")[0]
        assert "<b>99%</b>" not in page

        # the sink refused the ticket: a dead letter with its answer
        async def dead() -> str:
            async with client.get("/ui/deadletters") as reply:
                return await reply.text()

        listing = await eventually(dead, lambda text: "field &#39;team&#39; is required" in text)
        async with client.get(f"/ui/events/{event['id']}") as response:
            # what the sink answered, on the event's explain page too
            assert "field &#39;team&#39; is required" in await response.text()
        assert 'name="id"' not in listing  # an operator sees, only an admin retries
        token = await page_csrf(client, "/ui/deadletters")
        status, body = await daemon.get_json("/api/v1/deadletters")
        row_id = body["items"][0]["id"]
        async with client.post(
            "/ui/deadletters/retry", data={"csrf": token, "id": str(row_id)}, allow_redirects=False
        ) as response:
            assert response.status == 403

        async with client.get("/ui/rules") as response:
            assert "No reload since the daemon started." in await response.text()
        async with daemon.http.post("/api/v1/reload") as response:
            assert response.status == 200
        async with client.get("/ui/rules") as response:
            rules_page = await response.text()
        assert "Last reload at" in rules_page and ": applied, rules" in rules_page

        # try it: a payload decided by the current rules, nothing stored
        incidents_before = len(await daemon.incidents())
        token = await page_csrf(client, "/ui/rules")
        async with client.post(
            "/ui/rules/try",
            data={"csrf": token, "source": "generic", "payload": '{"title": "x", '
                  '"resource": "db1", "severity": "warning"}'},
        ) as response:  # fmt: skip
            assert response.status == 200
            tried = await response.text()
        assert "database-disks</span> <code>10-db.yaml:5</code>" in tried
        assert len(await daemon.incidents()) == incidents_before
        assert len(await _events(daemon)) == 1

        # a silence holds the next firing: explain names it
        silence = {
            "matchers": [{"name": "resource", "op": "=", "value": "db1"}],
            "ends_at": "2099-01-01T00:00:00Z", "author": "olga", "comment": "patching",
        }  # fmt: skip
        status, created = await daemon.post_json("/api/v1/silences", silence)
        assert status == 201
        resolved = {**ALERT, "status": "resolved"}
        assert (await daemon.post_json("/webhooks/generic", resolved))[0] == 202
        await eventually(lambda: _events(daemon), lambda found: found[0]["status"] == "resolved")
        again = {**ALERT, "summary": "again"}
        assert (await daemon.post_json("/webhooks/generic", again))[0] == 202
        await eventually(
            lambda: _events(daemon),
            lambda found: found[0]["suppressed_by"] == f"silence:{created['id']}",
        )
        async with client.get(f"/ui/events/{event['id']}") as response:
            page = await response.text()
        held = page.split('id="held-by">')[1].split("</dd>")[0]
        assert f"silence:{created['id']}" in held

    async with running_daemon(loaded) as daemon, person_client(daemon.base_url) as admin:
        assert await log_in(admin, "adam") == 303
        token = await page_csrf(admin, "/ui/deadletters")
        async with admin.post(
            "/ui/deadletters/retry", data={"csrf": token, "id": str(row_id)}, allow_redirects=False
        ) as response:
            assert response.status == 303
        rows = await audit.entries(daemon.services.db)
        assert ("dead_letter.retry", "adam", f"outbox:{row_id}") in [
            (r["action"], r["actor"], r["subject"]) for r in rows
        ]
        async with admin.get("/ui/audit?days=7&verify=1") as response:
            page = await response.text()
        assert "dead_letter.retry" in page and "silence.create" in page
        assert "The chain is intact" in page
    async with running_daemon(loaded) as daemon, person_client(daemon.base_url) as operator:
        assert await log_in(operator, "olga") == 303
        async with operator.get("/ui/audit") as response:
            assert response.status == 403
