"""An incident waiting on its requester (``pending``) through the HTTP listener on both
engines: its SLA clocks stand still, so when work goes on (acknowledge) its due times
have moved on by the time it waited; the wait is on the timeline for the requester,
in the audit log, and a resolved incident cannot wait."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from storage import audit
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon

ALERT = {"name": "disk full", "resource": "db1", "severity": "critical", "summary": "/ at 99%"}
SLA = """
sla:
  targets:
    - {priority: P1, calendar: 24x7, response: 15m, resolution: 4h}
"""
PATH = "/api/v1/incidents/INC-000001"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _incident(daemon: RunningDaemon) -> dict[str, object]:
    status, body = await daemon.get_json(PATH)
    assert status == 200
    found: dict[str, object] = body
    return found


async def test_pending_stops_the_sla_clocks(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "00-sla.yaml").write_text(SLA)
    async with running_daemon(write_config(database_url)) as daemon:
        assert (await daemon.post_json("/webhooks/generic", ALERT))[0] == 202
        await eventually(daemon.incidents, lambda items: len(items) == 1)
        before = await _incident(daemon)
        due = before["sla"]
        assert isinstance(due, dict) and due["response_due"] and due["resolution_due"]

        body = {"author": "alice", "comment": "which disk? please send df -h"}
        status, waiting = await daemon.post_json(f"{PATH}/pending", body)
        assert status == 200 and waiting["status"] == "pending" and waiting["pending_since"]
        listed = await daemon.incidents("?status=pending")
        assert [item["key"] for item in listed] == ["INC-000001"]
        await asyncio.sleep(1.5)
        status, resumed = await daemon.post_json(f"{PATH}/acknowledge", {"author": "alice"})
        assert status == 200 and resumed["status"] == "acknowledged"
        assert resumed["pending_since"] is None
        for clock in ("response_due", "resolution_due"):
            moved = _time(resumed["sla"][clock]) - _time(due[clock])
            assert 1.5 <= moved.total_seconds() < 10, (clock, moved)
        detail = await _incident(daemon)
        timeline = detail["timeline"]
        assert isinstance(timeline, list)
        kinds = [(entry["kind"], entry["visibility"]) for entry in timeline]
        assert ("pending", "public") in kinds
        resumed_entry = next(entry for entry in timeline if entry["kind"] == "acknowledged")
        assert resumed_entry["data"]["from"] == "pending"
        assert resumed_entry["data"]["paused_seconds"] >= 1.5

        assert (await daemon.post_json(f"{PATH}/resolve", {}))[0] == 200
        status, refused = await daemon.post_json(f"{PATH}/pending", {})
        assert status == 409 and "cannot become pending" in refused["message"]
        actions = [row["action"] for row in await audit.entries(daemon.services.db)]
    assert actions[1:] == ["incident.pending", "incident.acknowledged", "incident.resolved"]


async def test_a_pending_alert_incident_resolves_after_its_hold_down(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "00-hold.yaml").write_text("settings:\n  resolve_hold_down: 1s\n")
    loaded = write_config(
        database_url,
        pipeline={"recovery_interval_seconds": 0.2, "periodic_interval_seconds": 0.2},
    )
    async with running_daemon(loaded) as daemon:
        assert (await daemon.post_json("/webhooks/generic", ALERT))[0] == 202
        await eventually(daemon.incidents, lambda items: len(items) == 1)
        assert (await daemon.post_json(f"{PATH}/pending", {}))[0] == 200
        recovered = {**ALERT, "status": "ok"}
        assert (await daemon.post_json("/webhooks/generic", recovered))[0] == 202
        await eventually(
            lambda: _incident(daemon), lambda found: found["status"] == "resolved", within=15
        )
