"""The shipped example rules through the real listeners, on both engines.

Monitoring mail (Nagios, Icinga, Zabbix): the PROBLEM mail opens an incident,
the RECOVERY mail (another subject) resolves the same event, and the incident
is resolved once the hold-down has passed. Service-hour calendars take the
public holidays of their country.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from holidays import country_holidays

from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.example_config import (
    PAYLOADS,
    example_sections,
    incident_titled,
    send_mail,
)

MONITORING_MAIL = [
    ("nagios", "HTTP on web01"),
    ("icinga", "disk /var on app03"),
    ("zabbix", "High CPU utilization (over 90% for 5m) on app-server-01"),
]


@pytest.mark.parametrize(("tool", "title"), MONITORING_MAIL)
async def test_a_recovery_mail_resolves_the_incident_of_its_problem_mail(
    database_url: str, write_config: ConfigWriter, tmp_path: Path, tool: str, title: str
) -> None:
    loaded = write_config(database_url, **example_sections(tmp_path))
    async with running_daemon(loaded) as daemon:
        await send_mail(daemon, (PAYLOADS / f"{tool}-problem.eml").read_bytes())
        opened = await eventually(lambda: incident_titled(daemon, title), bool)
        assert opened is not None and opened["status"] == "new"
        assert opened["category"] == "monitoring"

        await send_mail(daemon, (PAYLOADS / f"{tool}-recovery.eml").read_bytes())
        resolved = await eventually(
            lambda: incident_titled(daemon, title),
            lambda item: item is not None and item["status"] == "resolved",
        )
        assert resolved is not None and resolved["id"] == opened["id"]
        assert len(await daemon.incidents()) == 1
        events = await _events(daemon, opened["id"])
        assert [(event["status"], event["count"]) for event in events] == [("resolved", 2)]


async def _events(daemon: RunningDaemon, incident_id: int) -> list[dict[str, object]]:
    status, body = await daemon.get_json(f"/api/v1/events?incident_id={incident_id}")
    assert status == 200, body
    items: list[dict[str, object]] = body["items"]
    return items


HOLIDAY_RULES = """
calendars:
  - name: every-day
    timezone: UTC
    hours: {mon-sun: "00:00-00:00"}
    country: DE-BY
sla:
  targets:
    - {priority: P3, calendar: every-day, resolution: 400d}
rules:
  - name: all-p3
    description: every alert is a P3
    match: {kind: generic}
    priority: P3
"""


async def test_sla_due_times_skip_the_public_holidays_of_the_calendars_country(
    database_url: str, write_config: ConfigWriter, tmp_path: Path
) -> None:
    rules_dir = tmp_path / "holiday-rules"
    rules_dir.mkdir()
    (rules_dir / "rules.yaml").write_text(HOLIDAY_RULES)
    loaded = write_config(database_url, rules={"dir": str(rules_dir), "catalogue": None})
    async with running_daemon(loaded) as daemon:
        status, _ = await daemon.post_json(
            "/webhooks/generic", {"name": "disk", "resource": "db1", "severity": "medium"}
        )
        assert status == 202
        incidents = await eventually(daemon.incidents, bool)
    created = datetime.fromisoformat(incidents[0]["created_at"])
    due = datetime.fromisoformat(incidents[0]["sla"]["resolution_due"])
    # 400 days of a calendar open all day: every Bavarian holiday on the way adds a day.
    assert due == _all_day_calendar_due(created, timedelta(days=400))
    assert due >= created + timedelta(days=400 + 12)  # at least one year of holidays


def _all_day_calendar_due(start: datetime, duration: timedelta) -> datetime:
    bavaria = country_holidays("DE", subdiv="BY")
    cursor, remaining = start.astimezone(UTC), duration
    while True:
        midnight = datetime.combine(cursor.date() + timedelta(days=1), datetime.min.time(), UTC)
        if cursor.date() not in bavaria:
            if remaining <= midnight - cursor:
                return cursor + remaining
            remaining -= midnight - cursor
        cursor = midnight
