"""Silences from the console through the real HTTP listener, on both engines: one
made from an event's prefilled matchers holds the next matching alert (and says
how many events it holds); one that matches nothing carries a warning; expiring
ends it; a viewer can do neither."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from storage import audit
from tests.conftest import ConfigWriter
from tests.integration.console_support import console_section, log_in, page_csrf, person_client
from tests.integration.daemon import RunningDaemon, eventually, running_daemon


async def _events(daemon: RunningDaemon, resource: str) -> list[dict[str, Any]]:
    status, body = await daemon.get_json("/api/v1/events?source=generic")
    assert status == 200
    return [item for item in body["items"] if item["resource"] == resource]


async def test_silence_from_an_event_holds_the_next_alert(
    write_config: ConfigWriter, database_url: str
) -> None:
    loaded = write_config(database_url, console=console_section())
    alert = {"name": "disk full", "resource": "db1", "severity": "critical"}
    async with running_daemon(loaded) as daemon:
        assert (await daemon.post_json("/webhooks/generic", alert))[0] == 202
        [event] = await eventually(lambda: _events(daemon, "db1"), lambda found: len(found) == 1)
        async with person_client(daemon.base_url) as client:
            assert await log_in(client, "olga") == 303
            async with client.get(f"/ui/silences/new?event={event['id']}") as response:
                page = await response.text()
            names = re.findall(r'name="name_(\d+)" value="([^"]*)"', page)
            values = re.findall(r'name="value_(\d+)" value="([^"]*)"', page)
            assert dict(names)["0"] == "source" and dict(values)["0"] == "generic"
            token = await page_csrf(client, "/ui/silences/new")
            form = {"csrf": token, "hours": "2", "comment": "db1 is being patched"}
            for index, name in names:
                form |= {f"use_{index}": "on", f"name_{index}": name, f"op_{index}": "="}
                form[f"value_{index}"] = dict(values)[index]
            async with client.post("/ui/silences", data=form, allow_redirects=False) as response:
                assert response.status == 303, await response.text()
            nothing = {
                "csrf": token, "hours": "1", "comment": "nothing like this exists",
                "use_0": "on", "name_0": "resource", "op_0": "=", "value_0": "no-such-host",
            }  # fmt: skip
            async with client.post("/ui/silences", data=nothing, allow_redirects=False) as reply:
                assert reply.status == 303
            status, body = await daemon.get_json("/api/v1/silences")
            held_by = {item["comment"]: item["id"] for item in body["items"]}
            # a recovery then a new firing: the same alert again, now held
            resolved = {**alert, "status": "resolved"}
            assert (await daemon.post_json("/webhooks/generic", resolved))[0] == 202
            await eventually(
                lambda: _events(daemon, "db1"), lambda found: found[0]["status"] == "resolved"
            )
            again = {**alert, "summary": "disk full again"}  # another body: not a re-delivery
            assert (await daemon.post_json("/webhooks/generic", again))[0] == 202
            silence_id = held_by["db1 is being patched"]
            await eventually(
                lambda: _events(daemon, "db1"),
                lambda found: found[0]["suppressed_by"] == f"silence:{silence_id}",
            )
            async with client.get("/ui/silences") as response:
                listing = await response.text()
            row = listing.split(f'id="silence-{silence_id}"')[1].split("</tr>")[0]
            assert "olga" in row and "db1 is being patched" in row
            assert "<td>1" in row and "Holds no event" not in row
            other = listing.split(f'id="silence-{held_by["nothing like this exists"]}"')[1]
            assert "Holds no event now" in other.split("</tr>")[0]

        async with person_client(daemon.base_url) as viewer:
            assert await log_in(viewer, "vera") == 303
            token = await page_csrf(viewer, "/ui/silences")
            async with viewer.post(
                f"/ui/silences/{silence_id}/expire", data={"csrf": token}, allow_redirects=False
            ) as response:
                assert response.status == 403
        async with person_client(daemon.base_url) as client:
            assert await log_in(client, "olga") == 303
            token = await page_csrf(client, "/ui/silences")
            before = {
                item["id"]: item for item in (await daemon.get_json("/api/v1/silences"))[1]["items"]
            }
            async with client.post(
                f"/ui/silences/{silence_id}/extend",
                data={"csrf": token, "hours": "24"},
                allow_redirects=False,
            ) as response:
                assert response.status == 303
            after = {
                item["id"]: item for item in (await daemon.get_json("/api/v1/silences"))[1]["items"]
            }
            old_end = datetime.fromisoformat(before[silence_id]["ends_at"].replace("Z", "+00:00"))
            new_end = datetime.fromisoformat(after[silence_id]["ends_at"].replace("Z", "+00:00"))
            assert new_end - old_end == timedelta(hours=24)
            async with client.post(
                f"/ui/silences/{silence_id}/expire", data={"csrf": token}, allow_redirects=False
            ) as response:
                assert response.status == 303
        status, body = await daemon.get_json("/api/v1/silences")
        assert status == 200
        assert silence_id not in [item["id"] for item in body["items"]]
        actions = [(r["action"], r["actor"]) for r in await audit.entries(daemon.services.db)]
        assert actions.count(("silence.create", "olga")) == 2
        assert ("silence.expire", "olga") in actions
        assert ("silence.extend", "olga") in actions
