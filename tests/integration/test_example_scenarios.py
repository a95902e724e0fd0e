"""The example rules' scenarios (config/rules/tests/*.yaml): covered, and true on the wire.

``intake-gateway test-rules`` runs every scenario on a clock it moves, with the
real parsers and incident store in a scratch database; the first test checks
that they pass and exercise every named part of config/rules.

The daemon's clock cannot be moved, so the second test replays the parts of
the scenarios that hold in real time through the real SMTP and HTTP
listeners on both engines, with a 1 s hold-down: every payload of a scenario
up to the step named below, then that step's expected incidents, without
the fields that are times (due times, resolved_at...). What needs the clock
(maintenance on Sunday night, the end of a silence, SLA escalations, the
reopen window's end, auto-close after days) is covered by test-rules only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.validation import validate
from core.yamldoc import Problems, read_yaml
from gateway.cli import main
from gateway.processing.rule_tests import compare
from gateway.processing.scenario_spec import ScenarioFileSpec, ScenarioSpec, StepSpec
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.example_config import SINKS, example_rules, send_mail
from tests.integration.mail_support import smtp_section

SCENARIOS = Path(__file__).resolve().parents[2] / "config" / "rules" / "tests"
CATALOGUE = SCENARIOS.parents[1] / "catalogue.yaml"
_TIMES = {"resolved_at", "closed_at", "created_at", "updated_at", "acknowledged_at", "sla",
          "resolve_after", "first_seen", "last_seen", "at"}  # fmt: skip

# (file, scenario name, number of the step whose expectation is checked, from 1)
REAL_TIME = [
    ("monitoring-mail.yaml", "Nagios problem mail, recovery mail", 4),
    ("monitoring-mail.yaml", "Icinga 2 problem mail", 3),
    ("monitoring-mail.yaml", "Zabbix problem mail", 3),
    ("monitoring-mail.yaml", "two checks of one host", 4),
    ("alerts.yaml", "Alertmanager HostDown on mx1 fires", 4),
    ("alerts.yaml", "the same alert firing again within the reopen window", 4),
    ("alerts.yaml", "a critical alert on a critical service", 1),
    ("alerts.yaml", "informational alerts", 1),
    ("alerts.yaml", "disk alerts open an incident", 3),
    ("alerts.yaml", "Grafana alert fires and resolves", 3),
    ("alerts.yaml", "Zabbix problem and recovery", 3),
    ("alerts.yaml", "a Zabbix disaster", 1),
    ("alerts.yaml", "a Zabbix trigger that flaps", 6),
    ("suppression.yaml", "a silence suppresses a matching alert", 2),
    ("suppression.yaml", "warnings from a site whose uplink is down", 2),
    ("suppression.yaml", "a host behind a failed switch", 2),
    ("service-desk.yaml", "mail is classified", 4),
    ("service-desk.yaml", "a printer alert from the portal", 1),
    ("follow-ups.yaml", "a mail reply on an alert incident", 2),
]


def test_the_example_scenarios_pass_and_exercise_every_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = sorted(str(path) for path in SCENARIOS.glob("*.yaml"))
    assert main(["test-rules", *files]) == 0
    out = capsys.readouterr().out
    assert "never exercised" not in out, out  # each rule, window, inhibit rule, known error
    assert out.rstrip().endswith(" passed, 0 failed")


NOTHING = """
rules_dir: {rules}
catalogue: {catalogue}
start: 2026-12-07T10:00:00+01:00
sources:
  hooks: {{kind: generic}}
scenarios:
  - name: nothing comes in
    steps:
      - after: 1m
"""


def test_every_named_part_of_the_example_rules_is_counted_by_the_coverage_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The check above means something only if it knows every rule, window, inhibit rule
    and known error of config/rules: read here from the files themselves."""
    written: set[str] = set()
    for path in sorted(SCENARIOS.parent.glob("*.yaml")):
        problems = Problems()
        doc = read_yaml(path, problems)
        assert doc is not None, problems.as_list()
        for key, what, name in PARTS:
            written.update(f"{what} {item[name]}" for item in doc.data.get(key) or [])
    assert {part.split()[0] for part in written} == {"rule", "maintenance", "inhibit", "known"}
    path = tmp_path / "nothing.yaml"
    path.write_text(NOTHING.format(rules=SCENARIOS.parent, catalogue=CATALOGUE))
    assert main(["test-rules", str(path)]) == 0
    [line] = [line for line in capsys.readouterr().out.splitlines() if "never exercised" in line]
    assert set(line.split("never exercised by these tests: ")[1].split(", ")) == written


PARTS = [("rules", "rule", "name"), ("maintenance", "maintenance", "name"),
         ("inhibit", "inhibit", "name"), ("known_errors", "known error", "id")]  # fmt: skip


def _scenario(file: str, name: str) -> tuple[ScenarioFileSpec, ScenarioSpec]:
    problems = Problems()
    doc = read_yaml(SCENARIOS / file, problems)
    spec = validate(ScenarioFileSpec, doc, problems) if doc is not None else None
    assert spec is not None, problems.as_list()
    found = [item for item in spec.scenarios if item.name.startswith(name)]
    assert len(found) == 1, f"{file}: no single scenario named {name!r}..."
    return spec, found[0]


@pytest.mark.parametrize(("file", "name", "until"), REAL_TIME, ids=[n for _, n, _ in REAL_TIME])
async def test_the_scenario_holds_through_the_real_listeners(
    database_url: str,
    write_config: ConfigWriter,
    tmp_path: Path,
    file: str,
    name: str,
    until: int,
) -> None:
    spec, scenario = _scenario(file, name)
    loaded = write_config(database_url, **_sections(spec, tmp_path))
    async with running_daemon(loaded) as daemon:
        received = 0
        for step in scenario.steps[:until]:
            received += await _act(daemon, spec, step)
            await eventually(lambda: _occurrences(daemon), received.__eq__)
        expected = scenario.steps[until - 1].expect.incidents
        assert expected is not None, "the step checked must expect incidents"
        wanted = [_without_times(item) for item in expected]
        await eventually(
            lambda: _incidents(daemon),
            lambda got: len(got) == len(wanted) and not compare(wanted, got, "incidents."),
        )


def _sections(spec: ScenarioFileSpec, tmp_path: Path) -> dict[str, Any]:
    mail = {name: source for name, source in spec.sources.items() if source.kind == "email"}
    hooks = {name: source for name, source in spec.sources.items() if source.kind != "email"}
    sections: dict[str, Any] = {
        "integrations": [
            # a scenario's repeated payload stands for a new delivery, not a re-delivery
            {
                "name": name,
                "kind": source.kind,
                "options": source.options,
                "dedup_window_seconds": 0,
            }
            for name, source in hooks.items()
        ]
        or [{"name": "generic", "kind": "generic"}],
        "sinks": SINKS,
        "rules": {"dir": str(example_rules(tmp_path)), "catalogue": str(CATALOGUE)},
        "pipeline": {"recovery_interval_seconds": 0.2, "periodic_interval_seconds": 0.2},
    }
    if mail:
        sections["smtp"] = smtp_section()
        sections["mailboxes"] = [
            {"name": name, "address": f"{name}@example.org", "service": source.service,
             "type": source.type, "options": source.options}
            for name, source in mail.items()
        ]  # fmt: skip
    return sections


async def _act(daemon: RunningDaemon, spec: ScenarioFileSpec, step: StepSpec) -> int:
    """Do the step's one thing through the listeners; the payloads it sent (0 or 1)."""
    if step.receive is not None:
        source = spec.sources[step.receive.source]
        record = step.receive.record(SCENARIOS, source.kind, 0, datetime.now(UTC))
        if source.kind == "email":
            await send_mail(daemon, record.raw, to=f"{step.receive.source}@example.org")
        else:
            headers = {"Content-Type": record.meta["content_type"]}
            path = f"/webhooks/{step.receive.source}"
            async with daemon.http.post(path, data=record.raw, headers=headers) as response:
                assert response.status == 202, await response.text()
        return 1
    if step.silence is not None:
        ends = datetime.now(UTC) + step.silence.duration
        body = {"matchers": step.silence.matchers, "comment": step.silence.comment,
                "author": "test", "ends_at": ends.isoformat()}  # fmt: skip
        status, answer = await daemon.post_json("/api/v1/silences", body)
        assert status == 201, answer
    if step.acknowledge is not None:
        status, answer = await daemon.post_json(
            f"/api/v1/incidents/{step.acknowledge}/acknowledge", {"author": "test"}
        )
        assert status == 200, answer
    return 0


async def _occurrences(daemon: RunningDaemon) -> int:
    status, body = await daemon.get_json("/api/v1/events?limit=500")
    assert status == 200, body
    return sum(int(event["count"]) for event in body["items"])


async def _incidents(daemon: RunningDaemon) -> list[dict[str, Any]]:
    found = []
    for item in sorted(await daemon.incidents(), key=lambda item: int(item["id"])):
        status, incident = await daemon.get_json(f"/api/v1/incidents/{item['id']}")
        assert status == 200, incident
        incident["timeline_kinds"] = [entry["kind"] for entry in incident["timeline"]]
        found.append(incident)
    return found


def _without_times(expected: Any) -> Any:
    if isinstance(expected, dict):
        return {k: _without_times(v) for k, v in expected.items() if k not in _TIMES}
    if isinstance(expected, list):
        return [_without_times(item) for item in expected]
    return expected


WRONG = """
rules_dir: rules
start: 2026-12-07T10:00:00+01:00
sources:
  hooks: {kind: generic}
scenarios:
  - name: resolves too early
    steps:
      - receive: {source: hooks, payload: {name: disk, resource: db1, severity: high}}
      - receive: {source: hooks, payload: {name: disk, resource: db1, status: resolved}}
        expect: {incidents: [{status: new}]}
      - after: 4m
        expect: {incidents: [{status: resolved}]}
  - name: goes back in time
    steps:
      - at: 2026-12-07T09:00:00+01:00
"""


def test_a_scenario_that_fails_says_where_and_what(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "settings.yaml").write_text("settings: {resolve_hold_down: 5m}\n")
    path = tmp_path / "scenarios.yaml"
    path.write_text(WRONG)
    assert main(["test-rules", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f'{path}:7: FAILED "resolves too early"',
        f"    {path}:12: step 3 at 2026-12-07T10:04:00+01:00: "
        "incidents.0.status: expected 'resolved', got 'new'",
        f'{path}:14: FAILED "goes back in time"',
        f"    {path}:16: step 1 goes back in time to 2026-12-07 09:00:00+01:00",
        "0 passed, 2 failed",
    ]
