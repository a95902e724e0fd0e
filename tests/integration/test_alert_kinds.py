"""Every monitoring kind through the HTTP listener: fixture payloads in, events and incidents out.

Each case posts a tool's own payloads (``tests/fixtures/alerts/<kind>/``,
``tests/fixtures/generic/``) step by step and reads the result back through
the JSON API only: after the problem, events are firing and incidents open;
after the recovery, the same events (by fingerprint) are resolved and their
incidents with them. A step's payloads are independent of each other, so
their processing order does not matter; each step waits for the previous.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CONTENT_TYPES = {".json": "application/json", ".form": "application/x-www-form-urlencoded"}

FIRING, RESOLVED = "firing", "resolved"
NEW = "new"


@dataclass(frozen=True)
class Step:
    posts: tuple[str, ...]  # payload files under tests/fixtures
    events: Mapping[str, tuple[str, int]]  # fingerprint -> (status, count)
    incidents: Mapping[str, tuple[str, str]]  # title -> (status, priority)
    unlinked: frozenset[str] = frozenset()  # fingerprints of events that opened no incident


@dataclass(frozen=True)
class Case:
    name: str
    integration: Mapping[str, Any]
    steps: tuple[Step, ...]
    alerts_received: tuple[int, int]  # (firing, resolved) alerts in all deliveries
    options_file: str | None = field(default=None)


CRASH_LOOP = "5f1c0a7e93b2d4c8"
RESTARTING = "a04e77d1c9f2b613"
DISK_SPACE = "e3b0c44298fc1c14"
HIGH_CPU = "8c1d4e4d0b9e2a71"
NO_DATA = "1f0e9d8c7b6a5948"
LEGACY_RULE = "grafana:1:42"
LINK_DOWN = "zabbix:23871:sw-core-01"
HTTPS_WEB01 = "nagios:web01:HTTPS"
HOST_DB02 = "nagios:db02:HOST"
TUNNEL = "nagios:vpn-gw:ipsec-tunnel-branch7"
NAS_DISK = "nagios:nas01.example.org:disk-/volume1"
# generic: sha256 over the mapped fingerprint paths (check.id, target.host)
SHOP_CHECK = "bf351abd43fcb28e2321929e75b4136d"
DNS_CHECK = "e499fa375ca330d24196446e2d15565e"

HTTPS_TITLE = (
    "HTTPS on web01 is CRITICAL: HTTP CRITICAL: HTTP/1.1 503 Service Unavailable "
    "- 312 bytes in 0.021 second response time"
)
TUNNEL_TITLE = (
    "ipsec-tunnel-branch7 on vpn-gw is UNKNOWN: UNKNOWN - could not query strongSwan: "
    "connection refused"
)
NAS_TITLE = "disk-/volume1 on nas01.example.org is WARNING: DISK WARNING - free space: " + (
    "/volume1 812 GB (8.1% inode=97%);"
)

CASES = (
    Case(
        "alertmanager",
        {"name": "prometheus", "kind": "alertmanager"},
        (
            Step(
                ("alerts/alertmanager/firing_group.json",),
                {CRASH_LOOP: (FIRING, 1), RESTARTING: (FIRING, 1)},
                {"Pod is crash looping.": (NEW, "P1"), "Pod is restarting.": (NEW, "P3")},
            ),
            Step(
                # the group's recovery, and one for an alert never seen firing
                (
                    "alerts/alertmanager/firing_group_resolved.json",
                    "alerts/alertmanager/resolved.json",
                ),
                {CRASH_LOOP: (RESOLVED, 2), RESTARTING: (RESOLVED, 2), DISK_SPACE: (RESOLVED, 1)},
                {"Pod is crash looping.": (RESOLVED, "P1"), "Pod is restarting.": (RESOLVED, "P3")},
                unlinked=frozenset({DISK_SPACE}),
            ),
        ),
        alerts_received=(2, 3),
    ),
    Case(
        "grafana-unified",
        {"name": "grafana", "kind": "grafana"},
        (
            Step(
                ("alerts/grafana/unified_firing.json",),
                {HIGH_CPU: (FIRING, 1), NO_DATA: (FIRING, 1)},
                {"web02 CPU above 90%": (NEW, "P3"), "DatasourceNoData": (NEW, "P4")},
            ),
            Step(
                ("alerts/grafana/unified_firing_resolved.json",),
                {HIGH_CPU: (RESOLVED, 2), NO_DATA: (RESOLVED, 2)},
                {"web02 CPU above 90%": (RESOLVED, "P3"), "DatasourceNoData": (RESOLVED, "P4")},
            ),
        ),
        alerts_received=(2, 2),
    ),
    Case(
        "grafana-legacy",
        {"name": "grafana-dashboards", "kind": "grafana"},
        (
            Step(
                ("alerts/grafana/legacy_alerting.json",),
                {LEGACY_RULE: (FIRING, 1)},
                {"[Alerting] File server disk usage": (NEW, "P1")},
            ),
            Step(
                ("alerts/grafana/legacy_ok.json",),
                {LEGACY_RULE: (RESOLVED, 2)},
                {"[Alerting] File server disk usage": (RESOLVED, "P1")},
            ),
        ),
        alerts_received=(1, 1),
    ),
    Case(
        "zabbix",
        {"name": "zabbix", "kind": "zabbix"},
        (
            Step(
                ("alerts/zabbix/problem.json",),
                {LINK_DOWN: (FIRING, 1)},
                {"Problem: Interface eth0: Link down": (NEW, "P2")},
            ),
            Step(  # an acknowledgement in Zabbix is another occurrence, still firing
                ("alerts/zabbix/update_acknowledged.json",),
                {LINK_DOWN: (FIRING, 2)},
                {"Problem: Interface eth0: Link down": (NEW, "P2")},
            ),
            Step(
                ("alerts/zabbix/recovery.json",),
                {LINK_DOWN: (RESOLVED, 3)},
                {"Problem: Interface eth0: Link down": (RESOLVED, "P2")},
            ),
        ),
        alerts_received=(2, 1),
    ),
    Case(
        "nagios",
        {"name": "nagios", "kind": "nagios"},
        (
            Step(  # form posts (curl --data-urlencode)
                ("alerts/nagios/service_problem.form", "alerts/nagios/host_down.form"),
                {HTTPS_WEB01: (FIRING, 1), HOST_DB02: (FIRING, 1)},
                {
                    HTTPS_TITLE: (NEW, "P1"),
                    "Host db02 is DOWN: PING CRITICAL - Packet loss = 100%": (NEW, "P1"),
                },
            ),
            Step(  # a JSON post and a form post
                ("alerts/nagios/service_recovery.json", "alerts/nagios/host_up.form"),
                {HTTPS_WEB01: (RESOLVED, 2), HOST_DB02: (RESOLVED, 2)},
                {
                    HTTPS_TITLE: (RESOLVED, "P1"),
                    "Host db02 is DOWN: PING CRITICAL - Packet loss = 100%": (RESOLVED, "P1"),
                },
            ),
        ),
        alerts_received=(2, 2),
    ),
    Case(
        "icinga",
        {"name": "icinga", "kind": "icinga"},
        (
            Step(
                ("alerts/nagios/icinga2_nested.json", "alerts/nagios/icinga2_acknowledgement.json"),
                {TUNNEL: (FIRING, 1), NAS_DISK: (FIRING, 1)},
                {TUNNEL_TITLE: (NEW, "P2"), NAS_TITLE: (NEW, "P3")},
            ),
            Step(  # only the tunnel recovers; the acknowledged disk stays open
                ("alerts/nagios/icinga2_nested_recovery.json",),
                {TUNNEL: (RESOLVED, 2), NAS_DISK: (FIRING, 1)},
                {TUNNEL_TITLE: (RESOLVED, "P2"), NAS_TITLE: (NEW, "P3")},
            ),
        ),
        alerts_received=(2, 1),
    ),
    Case(
        "generic-jmespath",
        {"name": "uptime-portal", "kind": "generic"},
        (
            Step(
                ("generic/portal_alarm.json",),
                {SHOP_CHECK: (FIRING, 1), DNS_CHECK: (FIRING, 1)},
                {
                    "HTTPS check failed from 3 of 3 locations: 503 Service Unavailable": (
                        NEW,
                        "P1",
                    ),
                    "DNS resolution slow: 1450 ms": (NEW, "P3"),
                },
            ),
            Step(
                ("generic/portal_clear.json",),
                {SHOP_CHECK: (RESOLVED, 2), DNS_CHECK: (RESOLVED, 2)},
                {
                    "HTTPS check failed from 3 of 3 locations: 503 Service Unavailable": (
                        RESOLVED,
                        "P1",
                    ),
                    "DNS resolution slow: 1450 ms": (RESOLVED, "P3"),
                },
            ),
        ),
        alerts_received=(2, 2),
        options_file="generic/portal.options.json",
    ),
)


@dataclass(frozen=True)
class Seen:
    """What the JSON API shows, in the shape a Step expects."""

    events: dict[str, tuple[str, int]]
    incidents: dict[str, tuple[str, str]]
    unlinked: frozenset[str]


async def _seen(daemon: RunningDaemon, source: str) -> Seen:
    status, body = await daemon.get_json(f"/api/v1/events?source={source}&limit=200")
    assert status == 200, body
    events = body["items"]
    incidents = await daemon.incidents("?limit=200")
    return Seen(
        events={event["fingerprint"]: (event["status"], event["count"]) for event in events},
        incidents={item["title"]: (item["status"], item["priority"]) for item in incidents},
        unlinked=frozenset(e["fingerprint"] for e in events if e["incident_id"] is None),
    )


async def _shows(daemon: RunningDaemon, source: str, expected: Seen) -> None:
    await eventually(lambda: _seen(daemon, source), lambda seen: seen == expected)


async def _post(daemon: RunningDaemon, integration: str, fixture: str) -> None:
    path = FIXTURES / fixture
    headers = {"Content-Type": CONTENT_TYPES[path.suffix]}
    async with daemon.http.post(
        f"/webhooks/{integration}", data=path.read_bytes(), headers=headers
    ) as response:
        answer = await response.json()
        assert response.status == 202, (fixture, answer)
        assert answer["duplicate"] is False


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_kind_opens_and_resolves_incidents_over_http(
    case: Case, write_config: ConfigWriter, database_url: str
) -> None:
    integration = dict(case.integration)
    if case.options_file is not None:
        integration["options"] = orjson.loads((FIXTURES / case.options_file).read_bytes())
    name = integration["name"]
    async with running_daemon(write_config(database_url, integrations=[integration])) as daemon:
        for step in case.steps:
            for fixture in step.posts:
                await _post(daemon, name, fixture)
            await _shows(daemon, name, Seen(dict(step.events), dict(step.incidents), step.unlinked))
        text = await (await daemon.http.get("/metrics")).text()
    assert _alerts_received(text, name) == case.alerts_received


def _alerts_received(metrics: str, integration: str) -> tuple[int, int]:
    counted = {FIRING: 0, RESOLVED: 0}
    for family in text_string_to_metric_families(metrics):
        if family.name != "intake_gateway_alerts_received":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels["integration"] == integration:
                counted[sample.labels["status"]] = int(sample.value)
    return counted[FIRING], counted[RESOLVED]
