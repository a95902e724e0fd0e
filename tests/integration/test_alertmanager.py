"""A real Prometheus Alertmanager posting to the daemon's webhook.

Alerts go to Alertmanager's API as Prometheus sends them; Alertmanager
groups them and notifies the daemon; the daemon's JSON API must show the
events and incidents follow: opened while firing, resolved once Alertmanager
reports them resolved (alerts posted again with ``endsAt`` in the past).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from storage import models
from tests.conftest import ConfigWriter
from tests.integration.alertmanager import (
    Alertmanager,
    postable_alert,
    running_alertmanager,
    webhook_route,
)
from tests.integration.daemon import RunningDaemon, eventually, running_daemon

DISK_HOSTS = ("db1:9100", "db2:9100", "db3:9100")


def _alerts(starts_at: datetime, ends_at: datetime) -> list[dict[str, Any]]:
    """Three disk alerts of one cluster (one group) and a load alert (a group of its own)."""
    disks = [
        postable_alert(
            {"alertname": "DiskFull", "cluster": "eu1", "instance": host, "severity": "critical"},
            starts_at,
            ends_at,
            f"/ is full on {host}",
        )
        for host in DISK_HOSTS
    ]
    load = postable_alert(
        {"alertname": "HighLoad", "cluster": "eu1", "instance": "app1:9100", "severity": "warning"},
        starts_at,
        ends_at,
        "load above 20 on app1:9100",
    )
    return [*disks, load]


async def _events(daemon: RunningDaemon) -> dict[str, str]:
    status, body = await daemon.get_json("/api/v1/events?source=alertmanager")
    assert status == 200, body
    return {event["resource"]: event["status"] for event in body["items"]}


async def _incidents(daemon: RunningDaemon) -> dict[str, str]:
    return {item["title"]: item["status"] for item in await daemon.incidents()}


async def _notifications() -> list[dict[str, Any]]:
    """The webhook deliveries the daemon stored, oldest first."""
    rows = await models.IntakeRecordRow.filter(source="alertmanager").order_by("id")
    return [orjson.loads(bytes(row.body)) for row in rows]


def _grouped(notifications: list[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    """(alertname, status, instances) of each notification, in a stable order."""
    return sorted(
        (
            note["groupLabels"]["alertname"],
            note["status"],
            sorted(alert["labels"]["instance"] for alert in note["alerts"]),
        )
        for note in notifications
    )


async def test_alertmanager_groups_notifies_and_resolves(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    loaded = write_config(integrations=[{"name": "alertmanager", "kind": "alertmanager"}])
    async with running_daemon(loaded) as daemon:
        route = webhook_route(
            f"{daemon.base_url}/webhooks/alertmanager", group_by=["alertname", "cluster"]
        )
        async with running_alertmanager(route, tmp_path / "alertmanager") as manager:
            started = datetime.now(UTC) - timedelta(minutes=1)
            await manager.post_alerts(_alerts(started, started + timedelta(hours=1)))
            firing = {host: "firing" for host in (*DISK_HOSTS, "app1:9100")}
            await eventually(lambda: _events(daemon), lambda seen: seen == firing, within=20)
            opened = await _incidents(daemon)
            assert opened == {
                **{f"/ is full on {host}": "new" for host in DISK_HOSTS},
                "load above 20 on app1:9100": "new",
            }
            # three alerts of one group came in one notification: three events
            assert _grouped(await _notifications()) == [
                ("DiskFull", "firing", sorted(DISK_HOSTS)),
                ("HighLoad", "firing", ["app1:9100"]),
            ]

            await manager.post_alerts(_alerts(started, datetime.now(UTC) - timedelta(seconds=1)))
            resolved = {host: "resolved" for host in firing}
            await eventually(lambda: _events(daemon), lambda seen: seen == resolved, within=20)
            assert await _incidents(daemon) == dict.fromkeys(opened, "resolved")
            assert _grouped(await _notifications()) == [
                ("DiskFull", "firing", sorted(DISK_HOSTS)),
                ("DiskFull", "resolved", sorted(DISK_HOSTS)),
                ("HighLoad", "firing", ["app1:9100"]),
                ("HighLoad", "resolved", ["app1:9100"]),
            ]


async def _heartbeat_status(daemon: RunningDaemon) -> list[str]:
    return [
        item["status"]
        for item in await daemon.incidents()
        if item["correlation_key"] == "heartbeat:alertmanager"
    ]


async def _repeats(daemon: RunningDaemon) -> int:
    text = await (await daemon.http.get("/metrics")).text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "intake_gateway_intake_accepted_total" and sample.labels == {
                "channel": "http",
                "integration": "alertmanager",
                "outcome": "duplicate",
            }:
                return int(sample.value)
    return 0


async def _watchdog(manager: Alertmanager) -> None:
    now = datetime.now(UTC)
    labels = {"alertname": "Watchdog", "severity": "none"}
    await manager.post_alerts([postable_alert(labels, now, now + timedelta(hours=1))])


async def test_watchdog_through_alertmanager_is_a_dead_mans_switch(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    heartbeat = {"timeout": "3s", "match": {"labels.alertname": "Watchdog"}}
    loaded = write_config(
        integrations=[{"name": "alertmanager", "kind": "alertmanager", "heartbeat": heartbeat}]
    )
    async with running_daemon(loaded) as daemon:
        # Alertmanager repeats the always-firing Watchdog every second
        route = webhook_route(
            f"{daemon.base_url}/webhooks/alertmanager",
            group_by=["alertname"],
            repeat_interval="1s",
        )
        async with running_alertmanager(route, tmp_path / "first") as manager:
            await _watchdog(manager)
            # repeats are identical bodies: acknowledged as duplicates, still signs of life
            await eventually(lambda: _repeats(daemon), lambda found: found >= 4, within=20)
            assert await _heartbeat_status(daemon) == []  # heard every second: all is well
        # Alertmanager is gone: the heartbeat stops
        assert await eventually(
            lambda: _heartbeat_status(daemon), lambda found: found == ["new"], within=20
        )
        async with running_alertmanager(route, tmp_path / "second") as manager:
            await _watchdog(manager)
            await eventually(
                lambda: _heartbeat_status(daemon), lambda found: found == ["resolved"], within=20
            )
