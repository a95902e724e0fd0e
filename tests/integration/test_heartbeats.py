"""Heartbeats end to end: silence raises "monitoring is down"; the heartbeat resolves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon

# What admins add next to a Watchdog heartbeat: the always-firing alert is
# the heartbeat itself, never an incident.
IGNORE_WATCHDOG = """\
rules:
  - name: watchdog-is-a-heartbeat
    description: Alertmanager's always-firing Watchdog is the heartbeat, not an incident.
    match: {labels.alertname: Watchdog}
    ignore: true
"""


def _notification(alertname: str, instance: str = "prometheus:9090") -> dict[str, Any]:
    return {
        "version": "4",
        "status": "firing",
        "groupKey": f'{{}}:{{alertname="{alertname}"}}',
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": alertname, "instance": instance, "severity": "none"},
                "annotations": {"summary": f"{alertname} on {instance}"},
                "startsAt": "2024-05-03T10:00:00Z",
                "fingerprint": f"{alertname}-{instance}",
            }
        ],
    }


async def _heartbeat_incidents(daemon: RunningDaemon, name: str) -> list[dict[str, Any]]:
    return [item for item in await daemon.incidents() if item["correlation_key"] == name]


async def _heartbeat_age(daemon: RunningDaemon, integration: str) -> float | None:
    text = await (await daemon.http.get("/metrics")).text()
    for family in text_string_to_metric_families(text):
        if family.name == "intake_gateway_heartbeat_age_seconds":
            for sample in family.samples:
                if sample.labels == {"integration": integration}:
                    return float(sample.value)
    return None


async def test_missing_watchdog_raises_a_p2_incident_that_its_return_resolves(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "10-watchdog.yaml").write_text(IGNORE_WATCHDOG)
    heartbeat = {"timeout": "1s", "match": {"labels.alertname": "Watchdog"}}
    loaded = write_config(
        database_url,
        integrations=[{"name": "prom", "kind": "alertmanager", "heartbeat": heartbeat}],
    )
    async with running_daemon(loaded) as daemon:
        assert (await daemon.post_json("/webhooks/prom", _notification("Watchdog")))[0] == 202
        # other alerts keep coming, but they are not the heartbeat
        assert (await daemon.post_json("/webhooks/prom", _notification("HighLoad")))[0] == 202
        [down] = await eventually(
            lambda: _heartbeat_incidents(daemon, "heartbeat:prom"), lambda found: len(found) == 1
        )
        assert down["status"] == "new" and down["priority"] == "P2"
        assert down["title"].startswith("monitoring is down: prom sent no heartbeat since ")
        age = await _heartbeat_age(daemon, "prom")
        assert age is not None and age >= 1.0

        assert (await daemon.post_json("/webhooks/prom", _notification("Watchdog")))[0] == 202
        [back] = await eventually(
            lambda: _heartbeat_incidents(daemon, "heartbeat:prom"),
            lambda found: len(found) == 1 and found[0]["status"] == "resolved",
        )
        assert back["id"] == down["id"]
        age = await _heartbeat_age(daemon, "prom")
        assert age is not None and age < 1.0

        names = sorted(item["title"] for item in await daemon.incidents())
        assert names == ["HighLoad on prometheus:9090", down["title"]]  # Watchdog was ignored
        _, events = await daemon.get_json("/api/v1/events?source=prom")
        heartbeat_events = [e for e in events["items"] if e["kind"] == "heartbeat"]
        assert [(e["fingerprint"], e["status"]) for e in heartbeat_events] == [
            ("heartbeat:prom", "resolved")
        ]


async def test_without_match_any_delivery_is_the_heartbeat(write_config: ConfigWriter) -> None:
    loaded = write_config(
        integrations=[{"name": "generic", "kind": "generic", "heartbeat": {"timeout": "1s"}}]
    )
    async with running_daemon(loaded) as daemon:
        await eventually(
            lambda: _heartbeat_incidents(daemon, "heartbeat:generic"), lambda found: len(found) == 1
        )
        alert = {"name": "backup ran", "resource": "nas1", "severity": "info"}
        assert (await daemon.post_json("/webhooks/generic", alert))[0] == 202
        [back] = await eventually(
            lambda: _heartbeat_incidents(daemon, "heartbeat:generic"),
            lambda found: found[0]["status"] == "resolved",
        )
        assert back["title"].startswith("monitoring is down: generic sent no heartbeat since ")
