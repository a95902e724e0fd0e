"""What the silences page says each silence holds, through the real HTTP listener on
both engines: two silences suppress events, each shows its own count and when it last
matched; an expired silence keeps its events until they are judged again; retention
deleting old suppressed events lowers the count and leaves the last-matched time."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from gateway.config.daemon import RetentionConfig
from gateway.jobs.retention import RetentionJob
from storage.retention import RetentionStore
from tests.conftest import ConfigWriter
from tests.integration.console_support import console_section, log_in, person_client
from tests.integration.daemon import RunningDaemon, eventually, running_daemon


async def _silence(daemon: RunningDaemon, resource: str) -> int:
    body = {
        "matchers": [{"name": "resource", "op": "=", "value": resource}],
        "ends_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        "author": "olga",
        "comment": f"{resource} is being patched",
    }
    status, created = await daemon.post_json("/api/v1/silences", body)
    assert status == 201, created
    return int(created["id"])


async def _events(daemon: RunningDaemon) -> dict[str, dict[str, Any]]:
    status, body = await daemon.get_json("/api/v1/events?source=generic&limit=500")
    assert status == 200
    return {f"{item['resource']}/{item['name']}": item for item in body["items"]}


async def _fire(daemon: RunningDaemon, resource: str, name: str, **more: str) -> None:
    alert = {"name": name, "resource": resource, "severity": "critical", **more}
    assert (await daemon.post_json("/webhooks/generic", alert))[0] == 202


async def _suppressed(daemon: RunningDaemon, wanted: dict[str, str]) -> dict[str, Any]:
    """Wait until each event named in ``wanted`` carries that suppressed_by."""
    return await eventually(
        lambda: _events(daemon),
        lambda found: all(
            key in found and found[key]["suppressed_by"] == by for key, by in wanted.items()
        ),
    )


async def _holds(client: Any, silence_id: int) -> tuple[int, str | None]:
    """(events held, last matched) as the page shows the silence."""
    async with client.get("/ui/silences?all=1") as response:
        assert response.status == 200
        listing = await response.text()
    row = listing.split(f'id="silence-{silence_id}"')[1].split("</tr>")[0]
    held = re.search(r'data-held="(\d+)"', row)
    assert held, row
    last = re.search(r'data-last-held="([^"]+)"', row)
    return int(held.group(1)), last.group(1) if last else None


def _newest(events: dict[str, Any], *keys: str) -> str:
    return str(max(events[key]["last_seen"] for key in keys))


async def test_counts_and_last_matched_follow_events_expiry_and_retention(
    write_config: ConfigWriter, database_url: str
) -> None:
    loaded = write_config(database_url, console=console_section())
    async with running_daemon(loaded) as daemon, person_client(daemon.base_url) as client:
        assert await log_in(client, "olga") == 303
        web1, web2 = await _silence(daemon, "web1"), await _silence(daemon, "web2")
        one, two = f"silence:{web1}", f"silence:{web2}"
        for name in ("cpu", "disk"):
            await _fire(daemon, "web1", name)
        await _fire(daemon, "web2", "mem")
        events = await _suppressed(daemon, {"web1/cpu": one, "web1/disk": one, "web2/mem": two})
        assert await _holds(client, web1) == (2, _newest(events, "web1/cpu", "web1/disk"))
        assert await _holds(client, web2) == (1, events["web2/mem"]["last_seen"])

        # what retention will find old: everything seen so far
        cutoff = datetime.now(UTC)
        await asyncio.sleep(0.01)
        await _fire(daemon, "web1", "net")
        events = await _suppressed(daemon, {"web1/net": one})
        latest = events["web1/net"]["last_seen"]
        assert await _holds(client, web1) == (3, latest)

        # expired, its event still held until the event is judged again
        async with daemon.http.delete(f"/api/v1/silences/{web2}") as response:
            assert response.status == 200
        assert await _holds(client, web2) == (1, events["web2/mem"]["last_seen"])
        await _fire(daemon, "web2", "mem", status="resolved")
        events = await _suppressed(daemon, {"web2/mem": ""})
        held, last = await _holds(client, web2)
        assert held == 0 and last is not None  # it did match, once

        db = daemon.services.db
        job = RetentionJob(
            db=db,
            store=RetentionStore(db),
            config=RetentionConfig(
                intake_records_days=None,
                rejected_intake_days=None,
                incidents_days=1,
                batch_size=100,
                pause_seconds=0,
            ),
            registry=CollectorRegistry(),
            clock=lambda: cutoff + timedelta(days=1),
        )
        deleted = await job.run_once(cutoff + timedelta(days=1))
        assert deleted is not None and deleted["events"] == 2
        left = await _events(daemon)
        assert "web1/cpu" not in left and "web1/net" in left and "web2/mem" in left
        assert await _holds(client, web1) == (1, latest)
