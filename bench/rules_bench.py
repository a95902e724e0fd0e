"""Benchmark: mean/p50/p99 microseconds per ``evaluate()`` on a 200-rule set.

Run: ``python bench/rules_bench.py [--events N]``. The rule set mixes the
shapes real rule files have: equality and regex matchers on kind and labels,
template enrichment, correlation keys, a few CEL conditions and ``continue``
rules, plus a small catalogue. Events cycle through alerts that match early,
late, and not at all.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.records import Event, EventStatus, Severity
from rules.decision import (
    EventState,
    IncidentState,
    IncidentStatus,
    Priority,
    State,
    StoredStatus,
)
from rules.loader import load_ruleset

RULES = 200
NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def rule_yaml(index: int) -> str:
    """One rule; every tenth has a CEL condition, every seventh continues."""
    lines = [
        f"  - name: rule-{index:03d}",
        f"    description: benchmark rule {index}",
        "    match:",
        f"      kind: {'alertmanager' if index % 2 else 'zabbix'}",
        f"      labels.alertname: Alert{index:03d}",
    ]
    if index % 5 == 0:
        lines.append(f'      resource: {{regex: "host-{index % 10}.*"}}')
    if index % 10 == 0:
        lines.append('    when: \'labels.team == "ops" && severity != "info"\'')
    lines += [
        "    set:",
        '      title: "{labels.alertname} on {labels.instance|host}"',
        f"      category: cat-{index % 7}",
        f"      impact: {index % 4 + 1}",
        '    correlate: {key: "{service}:{labels.alertname}", window: 30m}',
        f"    routes: [sink-{index % 3}]",
    ]
    if index % 7 == 0:
        lines.append("    continue: true")
    return "\n".join(lines)


CATALOGUE = (
    """
services:
  - {name: web, assignment_group: web-team, critical: true}
cis:
"""
    + "\n".join(
        f"  - {{name: host-{n}, service: web, depends_on: [{'switch' if n else ''}]}}".replace(
            ", depends_on: []", ""
        )
        for n in range(10)
    )
    + "\n  - {name: switch, service: web}\n"
)


def build(tmp: Path) -> Path:
    rules_dir = tmp / "rules"
    rules_dir.mkdir()
    body = "\n".join(rule_yaml(index) for index in range(RULES))
    (rules_dir / "50-bench.yaml").write_text("rules:\n" + body + "\n")
    (tmp / "catalogue.yaml").write_text(CATALOGUE)
    return rules_dir


def events() -> list[Event]:
    made = []
    for index in range(0, RULES + 40, 3):  # some match no rule at all
        made.append(
            Event(
                source="prometheus",
                kind="alertmanager" if index % 2 else "zabbix",
                name=f"Alert{index:03d}",
                resource=f"host-{index % 10}:9100",
                severity=Severity.HIGH,
                status=EventStatus.FIRING,
                summary="something is wrong",
                occurred_at=NOW,
                labels={
                    "alertname": f"Alert{index:03d}",
                    "instance": f"host-{index % 10}:9100",
                    "team": "ops",
                    "job": "node",
                },
            )
        )
    return made


def states() -> list[State]:
    incident = IncidentState(
        id=1,
        key="INC-000001",
        status=IncidentStatus.NEW,
        priority=Priority.P2,
        correlation_key="web:Alert001",
        created_at=NOW - timedelta(minutes=5),
        updated_at=NOW - timedelta(minutes=1),
        firing_events=1,
    )
    stored = EventState(
        id=1,
        fingerprint="f",
        status=StoredStatus.FIRING,
        severity=Severity.HIGH,
        count=3,
        first_seen=NOW - timedelta(minutes=5),
        last_seen=NOW - timedelta(minutes=1),
        incident_id=1,
    )
    return [State(), State(incident=incident), State(event=stored, incident=incident)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rules_dir = build(Path(tmp))
        ruleset = load_ruleset(rules_dir, Path(tmp) / "catalogue.yaml")
    pool, situations = events(), states()
    for event in pool:  # warm up caches (regexes, CEL)
        ruleset.evaluate(event, situations[0], NOW)
    samples = []
    for step in range(args.events):
        event = pool[step % len(pool)]
        state = situations[step % len(situations)]
        started = time.perf_counter_ns()
        ruleset.evaluate(event, state, NOW)
        samples.append((time.perf_counter_ns() - started) / 1000)
    samples.sort()
    p99 = samples[int(len(samples) * 0.99)]
    print(
        f"{len(ruleset.rules)} rules, {args.events} evaluations: "
        f"mean {statistics.fmean(samples):.1f} us, p50 {statistics.median(samples):.1f} us, "
        f"p99 {p99:.1f} us"
    )


if __name__ == "__main__":
    main()
