"""Watching the gateway: monitoring/alerts.yaml passes promtool's own rule tests, every
alert has its runbook section, Grafana's dashboard types read monitoring/dashboard.json
whole, and the alerts and the dashboard parse as PromQL and name only metrics a running
daemon exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson
from grafana_foundation_sdk.cog import plugins as grafana_plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder as GrafanaEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard as GrafanaDashboard
from ruamel.yaml import YAML

from tests.conftest import ConfigWriter, require
from tests.integration.daemon import RunningDaemon, eventually, running_daemon

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "monitoring"
RUNBOOK = REPO / "docs" / "runbook.md"
# what the issue asks the dashboard to show, by panel title
DASHBOARD_SUBJECTS = (
    "Intake by channel",
    "Acknowledgement latency",
    "Pipeline lag",
    "Incidents opened by priority",
    "SLA escalations",
    "Outbox deliveries",
    "dead letters",
)
# what Grafana's editor writes beside a query variable's query, outside the schema
OUTSIDE_GRAFANAS_SCHEMA = ["/templating/list[1]/definition"]
# metric names in PromQL: ours, the process collector's, and Prometheus's own `up`
METRIC_NAME = re.compile(r"\b((?:intake_gateway|process|python)_[a-zA-Z0-9_]+)\b")
# Grafana's variables, replaced by what Prometheus would see
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$instance": ".*"}


def _promtool() -> str:
    path = shutil.which("promtool")
    require("promtool (Debian package prometheus)", path is not None)
    assert path is not None
    return path


def _alert_rules() -> list[dict[str, Any]]:
    document = YAML(typ="safe").load((MONITORING / "alerts.yaml").read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def _dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = orjson.loads((MONITORING / "dashboard.json").read_bytes())
    return dashboard


def _dashboard_expressions() -> list[str]:
    expressions = []
    for panel in _dashboard()["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            expressions.append(expr)
    return expressions


def test_alert_rules_pass_promtool_check_and_unit_tests() -> None:
    promtool = _promtool()
    for command in (["check", "rules", "alerts.yaml"], ["test", "rules", "alerts.test.yaml"]):
        result = subprocess.run(
            [promtool, *command], cwd=MONITORING, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", (MONITORING / "alerts.test.yaml").read_text()))
    assert tested == {rule["alert"] for rule in _alert_rules()}


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_links_its_runbook_section() -> None:
    sections = {
        _slug(line[3:]): line[3:].strip()
        for line in RUNBOOK.read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    }
    alerts = _alert_rules()
    for rule in alerts:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        page, anchor = rule["annotations"]["runbook_url"].split("#")
        assert page == "docs/runbook.md", rule["alert"]
        assert sections.get(anchor) == rule["alert"], f"{rule['alert']}: no section #{anchor}"
    assert set(sections.values()) == {rule["alert"] for rule in alerts}


def test_dashboard_structure() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    occupied: set[tuple[int, int]] = set()
    for panel in panels:
        where = panel["gridPos"]
        assert where["x"] + where["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(where["x"], where["x"] + where["w"])
            for y in range(where["y"], where["y"] + where["h"])
        }
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
        assert panel["type"] in ("timeseries", "stat"), panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [target["refId"] for target in panel["targets"]]
        assert refs and len(set(refs)) == len(refs), panel["title"]
    titles = " | ".join(panel["title"] for panel in panels)
    for subject in DASHBOARD_SUBJECTS:
        assert subject in titles, subject


def _not_read_back(ours: Any, read: Any, path: str = "") -> list[str]:
    """Where ``read`` lacks a key of ``ours`` or holds another value (keys it adds are
    the model's defaults, not ours)."""
    if isinstance(ours, dict):
        if not isinstance(read, dict):
            return [path]
        return [
            lost
            for key, value in ours.items()
            for lost in (
                [f"{path}/{key}"]
                if key not in read
                else _not_read_back(value, read[key], f"{path}/{key}")
            )
        ]
    if isinstance(ours, list):
        if not isinstance(read, list) or len(read) != len(ours):
            return [path]
        return [
            lost
            for index, (mine, theirs) in enumerate(zip(ours, read, strict=True))
            for lost in _not_read_back(mine, theirs, f"{path}[{index}]")
        ]
    return [] if ours == read else [path]


def test_dashboard_is_read_whole_by_grafanas_dashboard_schema() -> None:
    """Grafana's own dashboard and panel types (its foundation SDK, generated from the
    schema Grafana validates dashboards with) read every key of the dashboard where it
    stands: a misspelt or misplaced key is dropped, and named here."""
    grafana_plugins.register_default_plugins()  # the panel and query types by name
    dashboard = _dashboard()
    model = GrafanaDashboard.from_json(dashboard)
    read = orjson.loads(json.dumps(model, cls=GrafanaEncoder))
    assert _not_read_back(dashboard, read) == OUTSIDE_GRAFANAS_SCHEMA


def test_dashboard_expressions_parse(tmp_path: Path) -> None:
    """promtool parses each expression as a recording rule."""
    rules = [
        {"record": f"dashboard:expr_{index}", "expr": expr}
        for index, expr in enumerate(_dashboard_expressions())
    ]
    path = tmp_path / "dashboard-rules.yaml"
    YAML(typ="safe").dump({"groups": [{"name": "dashboard", "rules": rules}]}, path)
    result = subprocess.run(
        [_promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _exported_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


async def test_alerts_and_dashboard_name_only_metrics_the_daemon_exports(
    write_config: ConfigWriter,
) -> None:
    async with running_daemon(write_config()) as daemon:
        text = await (await daemon.http.get("/metrics")).text()
    exported = _exported_names(text)
    assert "process_resident_memory_bytes" in exported
    assert "process_cpu_seconds_total" in exported
    expressions = [rule["expr"] for rule in _alert_rules()] + _dashboard_expressions()
    named = {name for expr in expressions for name in METRIC_NAME.findall(expr)}
    assert len(named) > 20
    assert not named - exported, sorted(named - exported)


async def _series(daemon: RunningDaemon, metric: str) -> dict[str, float]:
    """The samples of one metric with one label, by that label's value."""
    text = await (await daemon.http.get("/metrics")).text()
    found = re.findall(rf'^{metric}\{{\w+="([^"]*)"\}} (\S+)$', text, re.M)
    return {label: float(value) for label, value in found}


async def test_incidents_opened_are_counted_by_priority(
    write_config: ConfigWriter, database_url: str
) -> None:
    alert = {"name": "disk full", "resource": "db1", "severity": "critical"}
    async with running_daemon(write_config(database_url)) as daemon:
        assert (await daemon.post_json("/webhooks/generic", alert))[0] == 202
        incident = (await eventually(daemon.incidents, lambda items: len(items) == 1))[0]
        # a repeat of the same alert joins its event: no second incident, no second count
        repeat = {**alert, "summary": "still full"}
        assert (await daemon.post_json("/webhooks/generic", repeat))[0] == 202
        await eventually(
            lambda: _series(daemon, "intake_gateway_events_total"),
            lambda outcomes: outcomes.get("deduplicated", 0) >= 1,
        )
        counts = await _series(daemon, "intake_gateway_incidents_opened_total")
    assert counts == {
        priority: float(priority == incident["priority"]) for priority in ("P1", "P2", "P3", "P4")
    }
