"""Bulk actions from the console's list through the real HTTP listener, on both
engines: acknowledge by selection skips what it does not apply to; reassign by
filter changes every incident the filter selects and nothing else; each change is
on its incident's timeline and in the audit log; a viewer cannot."""

from __future__ import annotations

from typing import Any

from storage import audit
from tests.conftest import ConfigWriter
from tests.integration.console_support import console_section, log_in, page_csrf, person_client
from tests.integration.daemon import eventually, running_daemon


async def test_bulk_acknowledge_by_selection_and_reassign_by_filter(
    write_config: ConfigWriter, database_url: str
) -> None:
    loaded = write_config(database_url, console=console_section())
    async with running_daemon(loaded) as daemon:
        for host in ("web1", "web2", "db1"):
            alert = {"summary": f"{host} down", "resource": host, "severity": "critical"}
            assert (await daemon.post_json("/webhooks/generic", alert))[0] == 202
        found = await eventually(daemon.incidents, lambda items: len(items) == 3)
        by_title: dict[str, dict[str, Any]] = {item["title"]: item for item in found}
        db1 = by_title["db1 down"]
        status, _ = await daemon.post_json(f"/api/v1/incidents/{db1['id']}/resolve", {})
        assert status == 200

        async with person_client(daemon.base_url) as viewer:
            assert await log_in(viewer, "vera") == 303
            token = await page_csrf(viewer, "/ui/silences")
            refused = {"csrf": token, "bulk_action": "resolve", "scope": "filter", "filters": ""}
            async with viewer.post("/ui/incidents/bulk", data=refused, allow_redirects=False) as r:
                assert r.status == 403

        async with person_client(daemon.base_url) as client:
            assert await log_in(client, "olga") == 303
            token = await page_csrf(client, "/ui/incidents")
            form: list[tuple[str, str]] = [
                ("csrf", token), ("bulk_action", "acknowledge"), ("scope", "chosen"),
                ("filters", ""), ("comment", "looking"),
                *[("id", str(item["id"])) for item in found],
            ]  # fmt: skip
            async with client.post("/ui/incidents/bulk", data=form, allow_redirects=False) as r:
                assert r.status == 303
                assert r.headers["Location"].endswith("changed=2&refused=1")
            async with client.get(r.headers["Location"]) as page:
                assert "Changed: 2; not applicable: 1." in await page.text()

            form = [
                ("csrf", token), ("bulk_action", "assign"), ("scope", "filter"),
                ("filters", "q=web"), ("assignment_group", "web-team"),
            ]  # fmt: skip
            async with client.post("/ui/incidents/bulk", data=form, allow_redirects=False) as r:
                assert r.status == 303
                assert r.headers["Location"] == "/ui/incidents?q=web&changed=2&refused=0"

        after = {item["title"]: item for item in await daemon.incidents()}
        assert after["web1 down"]["status"] == after["web2 down"]["status"] == "acknowledged"
        assert after["db1 down"]["status"] == "resolved"
        assert after["web1 down"]["assignment_group"] == "web-team"
        assert after["web2 down"]["assignment_group"] == "web-team"
        assert after["db1 down"]["assignment_group"] != "web-team"
        status, web1 = await daemon.get_json(f"/api/v1/incidents/{after['web1 down']['id']}")
        kinds = [(e["kind"], e["author"]) for e in web1["timeline"]]
        assert ("acknowledged", "olga") in kinds and ("reassigned", "olga") in kinds
        rows = [(r["action"], r["actor"]) for r in await audit.entries(daemon.services.db)]
        assert rows.count(("incident.acknowledged", "olga")) == 2
        assert rows.count(("incident.reassigned", "olga")) == 2
