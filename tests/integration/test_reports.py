"""Reports through the HTTP listener on both engines, against figures computed by hand
on a fixture that crosses a weekend, a holiday (Wednesday 2026-11-11) and a reopen.

Office calendar: UTC, Monday to Friday 09:00-17:00. Targets: P1 24x7 response 15m,
resolution 4h; P3 office response 4h, resolution 16h; P4 none.

  A P1 web   Fri 11-06 22:00, ack 22:10, resolved Sat 03:00 (resolution 1h over)
  B P1 web   Mon 11-09 10:00, ack 10:30 (response 15m over), resolved 12:00
  C P3 mail  Fri 11-06 16:00, ack Mon 10:00 (2h office), resolved Thu 11-12 10:00
             (18h office: the holiday does not count; 2h over, 42h over on the wall clock)
  D P3 mail  Tue 11-10 09:00, ack 11:00, resolved 15:00, reopened, resolved Thu 09:30
  E P3 mail  Mon 11-23 10:00, still open: both targets passed
  G P4 web   Fri 11-20 12:00, major, resolved 13:00
  F P2 web   10-31, before the period
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from storage import models
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon

SLA_RULES = """
calendars:
  - name: office
    timezone: UTC
    hours:
      mon-fri: "09:00-17:00"
    holidays: [2026-11-11]
sla:
  targets:
    - {priority: P1, calendar: 24x7, response: 15m, resolution: 4h}
    - {priority: P3, calendar: office, response: 4h, resolution: 16h}
"""
PERIOD = "from=2026-11-01&to=2026-12-01"


def _t(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


FIXTURE: list[dict[str, Any]] = [
    # key, priority, service, created, acked, resolved, response_due, resolution_due
    dict(key="A", priority="P1", service="web", created_at=_t(6, 22), acknowledged_at=_t(6, 22, 10),
         resolved_at=_t(7, 3), response_due=_t(6, 22, 15), resolution_due=_t(7, 2)),
    dict(key="B", priority="P1", service="web", created_at=_t(9, 10), acknowledged_at=_t(9, 10, 30),
         resolved_at=_t(9, 12), response_due=_t(9, 10, 15), resolution_due=_t(9, 14)),
    dict(key="C", priority="P3", service="mail", created_at=_t(6, 16), acknowledged_at=_t(9, 10),
         resolved_at=_t(12, 10), response_due=_t(9, 12), resolution_due=_t(10, 16)),
    dict(key="D", priority="P3", service="mail", created_at=_t(10, 9), acknowledged_at=_t(10, 11),
         resolved_at=_t(12, 9, 30), response_due=_t(10, 13), resolution_due=_t(12, 17)),
    dict(key="E", priority="P3", service="mail", created_at=_t(23, 10), acknowledged_at=None,
         resolved_at=None, response_due=_t(23, 14), resolution_due=_t(25, 10)),
    dict(key="G", priority="P4", service="web", created_at=_t(20, 12), acknowledged_at=None,
         resolved_at=_t(20, 13), response_due=None, resolution_due=None, major=True),
    dict(key="F", priority="P2", service="web", created_at=_t(31, 12, month=10),
         acknowledged_at=None, resolved_at=None, response_due=None, resolution_due=None),
]  # fmt: skip


async def load_incidents(
    rows: list[dict[str, Any]], number_from: int, reopened: dict[str, datetime]
) -> None:
    """Store incidents as they are written (titled "incident <key>"), with a
    ``reopened`` timeline entry at the time given for some keys."""
    for number, row in enumerate(rows, start=number_from):
        values = dict(row)
        key = values.pop("key")
        incident = await models.Incident.create(
            **values,
            key=f"INC-{number:06d}",
            title=f"incident {key}",
            correlation_key=f"fixture:{key}",
            status="resolved" if values["resolved_at"] else "new",
            updated_at=values["created_at"],
        )
        if key in reopened:
            await models.TimelineEntry.create(
                incident_id=incident.id, at=reopened[key], kind="reopened", text="fired again"
            )


async def _load_fixture() -> None:
    await load_incidents(FIXTURE, 900001, {"D": _t(10, 16)})


async def _report(daemon: RunningDaemon, name: str, query: str = PERIOD) -> dict[str, Any]:
    status, body = await daemon.get_json(f"/api/v1/reports/{name}?{query}")
    assert status == 200, body
    found: dict[str, Any] = body
    return found


def _by(rows: list[dict[str, Any]], key: str = "priority") -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in rows}


@pytest.fixture
def sla_rules(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "00-sla.yaml").write_text(SLA_RULES)


@pytest.mark.usefixtures("sla_rules")
async def test_reports_match_hand_computed_figures(
    write_config: ConfigWriter, database_url: str
) -> None:
    async with running_daemon(write_config(database_url)) as daemon:
        await _load_fixture()
        volumes = await _report(daemon, "volumes")
        assert volumes["total"] == 6
        assert {row["key"]: row["count"] for row in volumes["incidents_by_priority"]} == {
            "P1": 2,
            "P3": 3,
            "P4": 1,
        }
        assert {row["key"]: row["count"] for row in volumes["incidents_by_service"]} == {
            "mail": 3,
            "web": 3,
        }
        assert volumes["incidents_by_day"][0] == {"key": "2026-11-06", "count": 2}

        mttr = await _report(daemon, "mttr")
        ack, resolve = _by(mttr["acknowledge"]), _by(mttr["resolve"])
        assert ack["all"]["count"] == 4
        assert ack["all"]["calendar"] == {"mean": 61800.0, "median": 1800.0, "p90": 237600.0}
        assert ack["all"]["service"] == {"count": 4, "median": 1800.0, "p90": 7200.0}
        assert ack["P3"]["calendar"]["median"] == 7200.0
        assert ack["P3"]["service"] == {"count": 2, "median": 7200.0, "p90": 7200.0}
        assert resolve["all"]["count"] == 5
        assert resolve["all"]["calendar"]["median"] == 18000.0
        assert resolve["all"]["calendar"]["p90"] == 496800.0
        assert resolve["all"]["service"] == {"count": 5, "median": 18000.0, "p90": 64800.0}
        assert resolve["P3"]["service"] == {"count": 2, "median": 30600.0, "p90": 64800.0}
        assert resolve["P3"]["calendar"]["p90"] == 496800.0

        sla = await _report(daemon, "sla")
        groups = {(row["priority"], row["service"]): row for row in sla["groups"]}
        web = groups[("P1", "web")]
        assert (web["response_measured"], web["response_breached"]) == (2, 1)
        assert (web["resolution_compliance"], web["response_compliance"]) == (50.0, 50.0)
        mail = groups[("P3", "mail")]
        assert (mail["response_measured"], mail["response_breached"]) == (3, 1)
        assert (mail["resolution_measured"], mail["resolution_breached"]) == (3, 2)
        assert mail["response_compliance"] == 66.67 and mail["resolution_compliance"] == 33.33
        assert groups[("P4", "web")]["response_compliance"] is None  # no target
        breaches = {(row["title"], row["clock"]): row for row in sla["breaches"]}
        assert set(breaches) == {
            ("incident A", "resolution"),
            ("incident B", "response"),
            ("incident C", "resolution"),
            ("incident E", "response"),
            ("incident E", "resolution"),
        }
        over_c = breaches[("incident C", "resolution")]
        assert (over_c["over_seconds"], over_c["over_service_seconds"]) == (151200.0, 7200.0)
        assert breaches[("incident B", "response")]["over_service_seconds"] == 900.0
        assert breaches[("incident A", "resolution")]["over_seconds"] == 3600.0
        targets = _by(sla["targets"])
        assert targets["P3"]["calendar"] == "office" and targets["P3"]["response_seconds"] == 14400

        summary = await _report(daemon, "summary")
        assert summary["incidents"] == 6 and summary["reopened"] == 1
        assert summary["reopen_rate"] == 20.0 and summary["major"] == 1
        assert summary["mtta_median_seconds"] == 1800.0
        assert summary["mttr_median_seconds"] == 18000.0
        assert summary["breaches"] == 5

        mail_only = await _report(daemon, "summary", f"{PERIOD}&service=mail")
        assert mail_only["incidents"] == 3 and mail_only["period"]["service"] == "mail"
        p1 = await _report(daemon, "volumes", f"{PERIOD}&priority=P1")
        assert p1["total"] == 2
        # an empty filter, as an HTML form sends it, means every priority and is documented so
        every = await _report(daemon, "volumes", f"{PERIOD}&priority=&service=")
        assert every["total"] == 6 and every["period"]["priority"] is None
        async with daemon.http.get("/api/v1/openapi.json") as response:
            schema = await response.json()
        parameters = schema["paths"]["/api/v1/reports/volumes"]["get"]["parameters"]
        priority = next(item for item in parameters if item["name"] == "priority")
        assert "" in priority["schema"]["enum"]


async def test_bad_periods_are_refused_with_the_reason(
    write_config: ConfigWriter, database_url: str
) -> None:
    async with running_daemon(write_config(database_url)) as daemon:
        for query, reason, words in (
            ("from=2026-11-02&to=2026-11-01", "bad_period", "is after to"),
            ("from=2025-01-01&to=2026-02-10", "bad_period", "more than 400 days"),
            ("from=yesterday", "bad_period", "ISO 8601"),
            ("from=0001-01-01&to=0001-01-02", "bad_period", "between 1970 and 9000"),
            ("from=9999-12-30&to=9999-12-31", "bad_period", "between 1970 and 9000"),
            ("priority=P9", "bad_period", "priority must be one of"),
            ("service=nowhere", "unknown_service", "no such service: nowhere"),
            ("format=xml", "bad_parameter", "format must be json or csv"),
        ):
            status, body = await daemon.get_json(f"/api/v1/reports/sla?{query}")
            assert status == 400, (query, body)
            assert body["error"] == reason and words in body["message"], body


async def test_noise_and_csv(write_config: ConfigWriter, database_url: str) -> None:
    alert = {"name": "disk full", "resource": "db1", "severity": "critical"}
    async with running_daemon(write_config(database_url)) as daemon:
        silence = {
            "matchers": [{"name": "resource", "op": "=", "value": "db2"}],
            "ends_at": "2099-01-01T00:00:00Z",
            "author": "carol",
            "comment": "patching db2",
        }
        assert (await daemon.post_json("/api/v1/silences", silence))[0] == 201
        for body in (alert, {**alert, "summary": "again"}, {**alert, "resource": "db2"}):
            assert (await daemon.post_json("/webhooks/generic", body))[0] == 202

        async def occurrences() -> int:
            return int((await _report(daemon, "noise", ""))["occurrences"])

        await eventually(occurrences, lambda count: count == 3)
        noise = await _report(daemon, "noise", "")
        assert (noise["intake_records"], noise["events"], noise["incidents"]) == (3, 2, 1)
        assert {row["key"]: row["count"] for row in noise["by_outcome"]} == {
            "new": 1,
            "deduplicated": 1,
            "silence": 1,
        }
        async with daemon.http.get("/api/v1/incidents", headers={"Accept": "text/csv"}) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(await response.text())))
        assert [row["key"] for row in rows] == ["INC-000001"]
        assert rows[0]["priority"] == "P1" and rows[0]["major"] in ("true", "false")
        async with daemon.http.get("/api/v1/events?format=csv&status=firing") as response:
            rows = list(csv.DictReader(io.StringIO(await response.text())))
        assert sorted(row["resource"] for row in rows) == ["db1", "db2"]
        async with daemon.http.get("/api/v1/reports/noise?format=csv") as response:
            text = await response.text()
        table = list(csv.DictReader(io.StringIO(text)))
        figures = {row["key"]: row["value"] for row in table if row["table"] == "figures"}
        assert figures["intake_records"] == "3"
        assert any(row["table"] == "by_outcome" and row["key"] == "silence" for row in table)


@pytest.mark.usefixtures("sla_rules")
async def test_time_histograms_in_metrics(write_config: ConfigWriter, database_url: str) -> None:
    """Prometheus gets the reports' figures: time to acknowledge and to resolve by
    priority, as histograms (A resolved in 5h, B in 2h; C acknowledged after 66h, D 2h)."""
    async with running_daemon(write_config(database_url)) as daemon:
        await _load_fixture()
        await daemon.services.incident_times.refresh()
        async with daemon.http.get("/metrics") as response:
            text = await response.text()
    samples = {
        (sample.name, sample.labels.get("priority"), sample.labels.get("le")): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("intake_gateway_incident_time_to_")
        for sample in family.samples
    }
    resolve = "intake_gateway_incident_time_to_resolve_seconds"
    assert samples[(f"{resolve}_count", "P1", None)] == 2
    assert samples[(f"{resolve}_sum", "P1", None)] == 25200
    assert samples[(f"{resolve}_bucket", "P1", "7200.0")] == 1  # B: 2h exactly
    assert samples[(f"{resolve}_bucket", "P1", "14400.0")] == 1
    assert samples[(f"{resolve}_bucket", "P1", "28800.0")] == 2
    assert samples[(f"{resolve}_bucket", "P4", "3600.0")] == 1
    ack = "intake_gateway_incident_time_to_acknowledge_seconds"
    assert samples[(f"{ack}_bucket", "P3", "7200.0")] == 1
    assert samples[(f"{ack}_bucket", "P3", "86400.0")] == 1
    assert samples[(f"{ack}_bucket", "P3", "259200.0")] == 2
    assert samples[(f"{ack}_bucket", "P3", "+Inf")] == 2
