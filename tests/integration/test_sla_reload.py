"""A reload that changes an SLA target mid-period, through the HTTP listener on both
engines: an incident is measured against the target in force when it was opened.

Before the reload: P1 on 24x7, response 4h, resolution 8h. After it: response 1h,
resolution 2h. Incident 1 opens before, incident 2 after; both are then acknowledged
2h and resolved 3h after they opened (their times moved 5h into the past):

  1: due +4h / +8h: ack at +2h and resolve at +3h are in time
  2: due +1h / +2h: ack 1h over, resolve 1h over (24x7: service time = calendar time)

So the SLA report counts 2 measured and 1 breached on each clock; recomputing the
due times of incident 1 from the new target would breach it too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from storage import models
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.test_reports import _report

TARGETS = """
sla:
  targets:
    - {{priority: P1, calendar: 24x7, response: {response}, resolution: {resolution}}}
"""
HOUR = timedelta(hours=1)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _open(daemon: RunningDaemon, title: str) -> dict[str, Any]:
    alert = {"name": title, "resource": "db1", "severity": "critical"}
    assert (await daemon.post_json("/webhooks/generic", alert))[0] == 202
    found = await eventually(
        daemon.incidents, lambda items: any(title in item["title"] for item in items)
    )
    return next(item for item in found if title in item["title"])


async def test_an_incident_keeps_the_target_in_force_when_it_opened(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules" / "00-sla.yaml"
    rules.parent.mkdir(exist_ok=True)
    rules.write_text(TARGETS.format(response="4h", resolution="8h"))
    async with running_daemon(write_config(database_url)) as daemon:
        first = await _open(daemon, "disk full")
        rules.write_text(TARGETS.format(response="1h", resolution="2h"))
        status, body = await daemon.post_json("/api/v1/reload", {})
        assert status == 200 and body["status"] == "reloaded", body
        await daemon.post_json(f"/api/v1/incidents/{first['id']}/acknowledge", {})
        second = await _open(daemon, "link down")
        for incident, hours in ((first, (4, 8)), (second, (1, 2))):
            opened = _time(str(incident["created_at"]))
            sla = incident["sla"]
            assert _time(sla["response_due"]) - opened == hours[0] * HOUR
            assert _time(sla["resolution_due"]) - opened == hours[1] * HOUR
        # the first incident's due times stay as they were set, after the reload too
        status, again = await daemon.get_json(f"/api/v1/incidents/{first['id']}")
        assert status == 200
        for clock in ("response_due", "resolution_due"):
            assert again["sla"][clock] == first["sla"][clock]

        for incident in (first, second):  # opened 5h ago, answered at +2h, resolved at +3h
            row = await models.Incident.get(id=incident["id"])
            opened = row.created_at - 5 * HOUR
            assert row.response_due is not None and row.resolution_due is not None
            await models.Incident.filter(id=row.id).update(
                created_at=opened,
                response_due=row.response_due - 5 * HOUR,
                resolution_due=row.resolution_due - 5 * HOUR,
                acknowledged_at=opened + 2 * HOUR,
                resolved_at=opened + 3 * HOUR,
                status="resolved",
            )
        sla = await _report(daemon, "sla", "")
        [group] = sla["groups"]
        assert (group["response_measured"], group["response_breached"]) == (2, 1)
        assert (group["resolution_measured"], group["resolution_breached"]) == (2, 1)
        over = {
            (row["key"], row["clock"]): (row["over_seconds"], row["over_service_seconds"])
            for row in sla["breaches"]
        }
        assert over == {
            (second["key"], "response"): (3600.0, 3600.0),
            (second["key"], "resolution"): (3600.0, 3600.0),
        }
        # the targets listed are those in force now
        [target] = sla["targets"]
        assert (target["response_seconds"], target["resolution_seconds"]) == (3600, 7200)
