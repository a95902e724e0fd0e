"""A reload that changes an SLA target or calendar mid-period, through the HTTP listener
on both engines: an incident is measured against the target in force when it was
opened, on that target's calendar.

Before the reload: P1 on 24x7, response 4h, resolution 8h. After it: response 1h,
resolution 2h. Incident 1 opens before, incident 2 after; both are then acknowledged
2h and resolved 3h after they opened (their times moved 5h into the past):

  1: due +4h / +8h: ack at +2h and resolve at +3h are in time
  2: due +1h / +2h: ack 1h over, resolve 1h over (24x7: service time = calendar time)

So the SLA report counts 2 measured and 1 breached on each clock; recomputing the
due times of incident 1 from the new target would breach it too.
"""
# (The calendar change and the escalations after a change are spelled out at their tests.)

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from storage import models
from tests.conftest import ConfigWriter
from tests.integration.console_support import console_section, log_in, person_client
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.test_reports import _report

TARGETS = """
sla:
  targets:
    - {{priority: P1, calendar: 24x7, response: {response}, resolution: {resolution}}}
"""
HOUR = timedelta(hours=1)
OFFICE = """
calendars:
  - name: office
    timezone: UTC
    hours: {{mon-fri: "09:00-17:00"}}
sla:
  targets:
    - {{priority: P1, calendar: {calendar}, response: 4h, resolution: 16h}}
"""


async def _reload_between_two(
    daemon: RunningDaemon, rules: Path, changed: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An incident opened, the rules changed and reloaded, another incident opened."""
    first = await _open(daemon, "disk full")
    await asyncio.to_thread(rules.write_text, changed)
    assert (await daemon.post_json("/api/v1/reload", {}))[0] == 200
    return first, await _open(daemon, "link down")


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


def _z(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


async def test_service_time_counts_on_the_calendar_the_incident_opened_with(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    """P1 moves from the office calendar (UTC, Monday to Friday 09:00-17:00) to 24x7,
    targets unchanged (response 4h, resolution 16h), between two incidents. Both are
    then set to the same times: opened Fri 11-06 16:00, acknowledged Mon 11-09 10:00,
    resolved Wed 11-11 12:00.

      1 (office): due Fri 1h + Mon 3h = Mon 12:00; Fri 1h + Mon 8h + Tue 7h = Tue 16:00
        ack in time, service Fri 16-17 + Mon 09-10 = 2h = 7200
        resolve 20h late (72000 calendar), in office hours Tue 16-17 + Wed 09-12 = 4h
        = 14400; service to resolve Fri 1h + Mon 8h + Tue 8h + Wed 3h = 20h = 72000
      2 (24x7): due Fri 20:00 and Sat 08:00: ack 62h late (223200), resolve 100h late
        (360000); service = calendar: to ack 66h = 237600, to resolve 116h = 417600
    """
    rules = tmp_path / "rules" / "00-sla.yaml"
    config = write_config(database_url)
    rules.write_text(OFFICE.format(calendar="office"))
    async with running_daemon(config) as daemon:
        first, second = await _reload_between_two(daemon, rules, OFFICE.format(calendar="24x7"))
        dues = {first["id"]: (_z(9, 12), _z(10, 16)), second["id"]: (_z(6, 20), _z(7, 8))}
        for number, (response_due, resolution_due) in dues.items():
            await models.Incident.filter(id=number).update(
                created_at=_z(6, 16),
                response_due=response_due,
                resolution_due=resolution_due,
                acknowledged_at=_z(9, 10),
                resolved_at=_z(11, 12),
                status="resolved",
            )
        period = "from=2026-11-01&to=2026-12-01"
        mttr = await _report(daemon, "mttr", period)
        [ack] = [row for row in mttr["acknowledge"] if row["priority"] == "P1"]
        [resolve] = [row for row in mttr["resolve"] if row["priority"] == "P1"]
        assert ack["service"] == {"count": 2, "median": 7200.0, "p90": 237600.0}
        assert resolve["service"] == {"count": 2, "median": 72000.0, "p90": 417600.0}
        sla = await _report(daemon, "sla", period)
        over = {
            (row["key"], row["clock"]): (
                row["over_seconds"],
                row["over_service_seconds"],
                row["calendar"],
            )
            for row in sla["breaches"]
        }
        assert over == {
            (first["key"], "resolution"): (72000.0, 14400.0, "office"),
            (second["key"], "response"): (223200.0, 223200.0, "24x7"),
            (second["key"], "resolution"): (360000.0, 360000.0, "24x7"),
        }


async def test_escalations_follow_the_target_the_incident_opened_with(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    """P1 response 4h (near breach at 75%: 3h), then 1h (45m) after a reload. The
    daemon's periodic job, 50 minutes after incident 1 opened: incident 2 (1h) is near
    its breach, incident 1 (4h) is not; at 3h05m incident 1 is."""
    rules = tmp_path / "rules" / "00-sla.yaml"
    config = write_config(database_url)
    rules.write_text(TARGETS.format(response="4h", resolution="8h"))  # near_breach 0.75
    async with running_daemon(config) as daemon:
        shorter = TARGETS.format(response="1h", resolution="2h")
        first, second = await _reload_between_two(daemon, rules, shorter)
        opened = _time(first["created_at"])

        async def escalated(incident: dict[str, Any]) -> list[str]:
            row = await models.Incident.get(id=incident["id"])
            return sorted(row.escalated)

        await daemon.services.jobs.run_once(opened + 50 * timedelta(minutes=1))
        assert await escalated(second) == ["response:near_breach"]
        assert await escalated(first) == []
        await daemon.services.jobs.run_once(opened + 3 * HOUR + 5 * timedelta(minutes=1))
        assert await escalated(first) == ["response:near_breach"]


MINUTE_A_WEEK = """
calendars:
  - name: minute   # one minute a week: a wait counted on it is next to nothing
    timezone: UTC
    hours: {sat: "00:00-00:01"}
sla:
  targets:
    - {priority: P1, calendar: minute, response: 4h, resolution: 8h}
"""


async def test_a_wait_moves_due_times_on_the_calendar_the_incident_opened_with(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    """P1 on 24x7, then (reload) on a calendar open one minute a week. An incident opened
    on 24x7 waits on its requester for 2 hours and is acknowledged: its resolution due
    time moves on by the 2 hours (and the seconds the test took), counted on 24x7, not
    by the few seconds, if any, the other calendar was open meanwhile."""
    rules = tmp_path / "rules" / "00-sla.yaml"
    config = write_config(database_url)
    rules.write_text(TARGETS.format(response="4h", resolution="8h"))
    async with running_daemon(config) as daemon:
        incident = await _open(daemon, "disk full")
        path = f"/api/v1/incidents/{incident['id']}"
        assert (await daemon.post_json(f"{path}/pending", {"author": "ann"}))[0] == 200
        row = await models.Incident.get(id=incident["id"])
        assert row.pending_since is not None
        await models.Incident.filter(id=row.id).update(pending_since=row.pending_since - 2 * HOUR)
        rules.write_text(MINUTE_A_WEEK)
        assert (await daemon.post_json("/api/v1/reload", {}))[0] == 200
        assert (await daemon.post_json(f"{path}/acknowledge", {"author": "ann"}))[0] == 200
        status, after = await daemon.get_json(path)
        assert status == 200
    before = _time(incident["sla"]["resolution_due"])
    moved = _time(after["sla"]["resolution_due"]) - before
    assert 2 * HOUR <= moved < 2 * HOUR + timedelta(minutes=1), moved


async def test_the_incident_names_the_calendar_it_opened_with(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    """After P1 moves from the office calendar to 24x7, an incident opened before says
    (API and console) that its SLA clocks count office hours."""
    rules = tmp_path / "rules" / "00-sla.yaml"
    config = write_config(database_url, console=console_section())
    rules.write_text(OFFICE.format(calendar="office"))
    async with running_daemon(config) as daemon:
        first, second = await _reload_between_two(daemon, rules, OFFICE.format(calendar="24x7"))
        assert (first["sla"]["calendar"], second["sla"]["calendar"]) == ("office", "24x7")
        async with person_client(daemon.base_url) as client:
            assert await log_in(client, "vera") == 303
            for incident, name in ((first, "office"), (second, "24x7")):
                async with client.get(f"/ui/incidents/{incident['key']}") as page:
                    text = await page.text()
                    assert f"calendar {name}" in text
