"""Waiting on the requester from the console, through the real HTTP listener on both
engines: the list's counts and status filter know ``pending`` (and count it as
open), an operator sets an incident pending from its page and takes it back to
work, each step on the timeline and in the audit log; a resolved incident cannot
wait, and a viewer cannot set it."""

from __future__ import annotations

import re

from storage import audit
from tests.conftest import ConfigWriter
from tests.integration.console_support import console_section, log_in, page_csrf, person_client
from tests.integration.daemon import eventually, running_daemon

ALERT = {"summary": "db1 disk full", "resource": "db1", "severity": "critical"}


def _count(page: str, status: str) -> int:
    found = re.search(rf'status={status}">[^<]*<span class="chip">(\d+)</span>', page)
    assert found, page[:3000]
    return int(found.group(1))


async def test_an_operator_sets_pending_and_back_from_the_console(
    write_config: ConfigWriter, database_url: str
) -> None:
    loaded = write_config(database_url, console=console_section())
    async with running_daemon(loaded) as daemon:
        assert (await daemon.post_json("/webhooks/generic", ALERT))[0] == 202
        found = await eventually(daemon.incidents, lambda items: len(items) == 1)
        key = found[0]["key"]
        path = f"/ui/incidents/{key}"

        async with person_client(daemon.base_url) as viewer:
            assert await log_in(viewer, "vera") == 303
            token = await page_csrf(viewer, path)
            async with viewer.post(f"{path}/pending", data={"csrf": token}) as refused:
                assert refused.status == 403

        async with person_client(daemon.base_url) as client:
            assert await log_in(client, "olga") == 303
            token = await page_csrf(client, path)
            form = {"csrf": token, "comment": "which disk?"}
            async with client.post(f"{path}/pending", data=form, allow_redirects=False) as r:
                assert (r.status, r.headers["Location"]) == (303, path)
            async with client.get(path) as page:
                text = await page.text()
                assert '<dd id="status">waiting on requester</dd>' in text
                assert 'id="resume"' in text and 'id="pending"' not in text
            async with client.get("/ui/incidents?status=pending") as page:
                text = await page.text()
                assert key in text and _count(text, "pending") == 1
            # pending is open: the priority chips count it, and "open" selects it
            async with client.get("/ui/incidents?status=new,acknowledged,pending") as page:
                assert key in await page.text()
            async with client.get(
                "/ui/incidents?status=pending", headers={"Cookie": "lang=zh"}
            ) as page:
                assert "等待请求人" in await page.text()

            async with client.post(
                f"{path}/acknowledge", data={"csrf": token}, allow_redirects=False
            ) as r:
                assert r.status == 303
            status, body = await daemon.get_json(f"/api/v1/incidents/{key}")
            assert (status, body["status"], body["pending_since"]) == (200, "acknowledged", None)
            entries = [(e["kind"], e["author"], e["text"]) for e in body["timeline"]]
            assert ("pending", "olga", "which disk?") in entries
            back = next(e for e in body["timeline"] if e["kind"] == "acknowledged")
            assert back["data"]["from"] == "pending"

            assert (await daemon.post_json(f"/api/v1/incidents/{key}/resolve", {}))[0] == 200
            async with client.get(path) as page:
                assert 'id="pending"' not in await page.text()
            async with client.post(f"{path}/pending", data={"csrf": token}) as r:
                assert r.status == 409
                assert "cannot become pending" in await r.text()

        rows = [(r["action"], r["actor"]) for r in await audit.entries(daemon.services.db)]
        assert ("incident.pending", "olga") in rows and ("incident.acknowledged", "olga") in rows
