"""Keyset paging of the console's list on both engines: every order walks every
incident exactly once, in that order, however the pages fall."""

from __future__ import annotations

import pytest

from storage.incident_list import ListQuery, list_page, read_cursor
from tests.conftest import ConfigWriter
from tests.integration.daemon import eventually, running_daemon

SEVERITIES = ("critical", "major", "minor", "warning", "critical", "minor", "info")


@pytest.mark.parametrize("sort", ["newest", "oldest", "priority"])
async def test_every_order_pages_through_every_incident_once(
    write_config: ConfigWriter, database_url: str, sort: str
) -> None:
    async with running_daemon(write_config(database_url)) as daemon:
        for number, severity in enumerate(SEVERITIES):
            alert = {"name": f"check {number}", "resource": f"host{number}", "severity": severity}
            assert (await daemon.post_json("/webhooks/generic", alert))[0] == 202
        everything = await eventually(daemon.incidents, lambda items: len(items) == 7)
        postgres = database_url.startswith("postgres")
        seen: list[tuple[str, int]] = []
        cursor = None
        for _ in range(10):
            items, next_cursor = await list_page(
                ListQuery(sort=sort, after=read_cursor(cursor), limit=2), postgres
            )
            seen.extend((item["priority"], item["id"]) for item in items)
            if next_cursor is None:
                break
            cursor = next_cursor
        ids = [ident for _, ident in seen]
        assert sorted(ids) == sorted(item["id"] for item in everything)
        assert len(set(ids)) == 7
        expected = {
            "newest": sorted(seen, key=lambda pair: -pair[1]),
            "oldest": sorted(seen, key=lambda pair: pair[1]),
            "priority": sorted(seen),
        }[sort]
        assert seen == expected
        assert len({priority for priority, _ in seen}) > 1
