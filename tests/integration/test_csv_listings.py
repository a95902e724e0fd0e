"""CSV of the incident and event listings: the same columns and values as the JSON
items of the same rows flattened, over every page."""

from __future__ import annotations

import csv
import io
from typing import Any

from core.tabular import flat
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon


def _as_csv(items: list[dict[str, Any]]) -> str:
    """The JSON items flattened and written as CSV, the columns of the first."""
    rows = [flat(item) for item in items]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(rows[0]), extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


async def _every(daemon: RunningDaemon, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    before = ""
    while True:
        status, body = await daemon.get_json(f"{path}?limit=2{before}")
        assert status == 200
        items += body["items"]
        if body["next_before"] is None:
            return items
        before = f"&before={body['next_before']}"


async def test_csv_listings_hold_the_json_items(
    write_config: ConfigWriter, database_url: str
) -> None:
    alerts = [
        {"name": "disk full", "resource": "db1", "severity": "critical",
         "labels": {"team": "ops", "rack": "r1"}},
        {"name": "disk full", "resource": "db1", "severity": "critical", "summary": "again"},
        {"name": "cpu, \"hot\"", "resource": "db2", "severity": "low",
         "labels": {"team": "dba"}},
        {"name": "ping", "resource": "sw1", "severity": "high", "status": "resolved"},
        {"name": "fan", "resource": "db3", "severity": "medium", "labels": {"note": "a\nb"}},
    ]  # fmt: skip
    async with running_daemon(write_config(database_url)) as daemon:
        for body in alerts:
            assert (await daemon.post_json("/webhooks/generic", body))[0] == 202

        async def events() -> int:
            return len(await _every(daemon, "/api/v1/events"))

        await eventually(events, lambda count: count == 5)
        assert (await daemon.post_json("/api/v1/incidents/1/acknowledge", {}))[0] == 200
        for path in ("/api/v1/incidents", "/api/v1/events"):
            items = await _every(daemon, path)
            assert len(items) >= 3
            async with daemon.http.get(f"{path}?format=csv") as response:
                assert response.status == 200
                assert await response.text() == _as_csv(items), path
