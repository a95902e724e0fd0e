"""Loading rule files: every problem reported as file:line: message, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.records import EventStatus
from rules.decision import EventOutcome, IncidentAction, Priority, State
from rules.loader import load_ruleset
from tests.unit.rules_support import NOW, event, incident, ruleset, stored, write

RULE_HEAD = """
rules:
  - name: r1
    description: test rule
"""

BAD_FILES = [
    ("syntax error", "rules: [\n  - name: x\n", 2, "YAML syntax error"),
    ("unknown section", "rulez: []\n", 1, 'unknown setting "rulez"'),
    (
        "unknown rule key",
        RULE_HEAD + "    matchh: {kind: x}\n",
        4,
        'rule "r1": unknown setting "matchh"',
    ),
    ("missing description", "rules:\n  - name: r1\n", 2, '"description" is required'),
    (
        "wrong type",
        RULE_HEAD + "    set: {impact: high}\n",
        4,
        "set.impact: Input should be a valid integer",
    ),
    ("impact out of range", RULE_HEAD + "    set: {impact: 7}\n", 4, "set.impact"),
    ("bad duration", RULE_HEAD + "    dedup_window: soon\n", 4, '"soon" is not a duration'),
    ("bad regex", RULE_HEAD + "    match: {resource: {regex: 'db[0-9'}}\n", 4, "does not compile"),
    (
        "unknown operator",
        RULE_HEAD + "    match: {resource: {like: db}}\n",
        4,
        'unknown operator "like"',
    ),
    (
        "unknown match field",
        RULE_HEAD + "    match: {lables.x: y}\n",
        4,
        '"lables.x" is not a field',
    ),
    (
        "template field",
        RULE_HEAD + "    set: {title: '{labels.x} on {hostt}'}\n",
        4,
        '"hostt" is not a field',
    ),
    ("template brace", RULE_HEAD + "    set: {title: 'a } b'}\n", 4, 'unmatched "}"'),
    (
        "template filter",
        RULE_HEAD + "    set: {title: '{name|shout}'}\n",
        4,
        'unknown filter "shout"',
    ),
    ("cel syntax", RULE_HEAD + "    when: 'severity == '\n", 4, "does not parse"),
    (
        "cel unknown variable",
        RULE_HEAD + "    when: 'sevrity == \"high\"'\n",
        4,
        '"sevrity" is not a field',
    ),
    (
        "cel unknown function",
        RULE_HEAD + "    when: 'shout(name)'\n",
        4,
        'unknown function "shout"',
    ),
    (
        "fingerprint field",
        RULE_HEAD + "    fingerprint: [source, nmae]\n",
        4,
        '"nmae" is not a field',
    ),
    (
        "incomplete matrix",
        "priority_matrix:\n  1: [P1, P1, P2, P3]\n  2: [P1, P2, P3]\n",
        1,
        "impact 2 needs exactly 4",
    ),
    ("matrix row missing", "priority_matrix:\n  1: [P1, P1, P2, P3]\n", 1, "no row for impact 4"),
    (
        "overlapping calendar",
        "calendars:\n  - name: office\n    hours:\n      mon-fri: ['08:00-12:00', '11:00-17:00']\n",
        3,
        "overlapping hours on Monday",
    ),
    (
        "bad time zone",
        "calendars:\n  - name: office\n    timezone: Mars/Olympus\n"
        "    hours: {mon: '08:00-17:00'}\n",
        3,
        'unknown time zone "Mars/Olympus"',
    ),
    (
        "unknown calendar",
        "sla:\n  targets:\n    - {priority: P1, calendar: office, response: 1h}\n",
        3,
        'calendar "office" is not defined',
    ),
    (
        "maintenance without schedule",
        "maintenance:\n  - name: m\n    match: {ci: x}\n",
        2,
        "needs either start and end, or weekly",
    ),
    (
        "maintenance naive time",
        "maintenance:\n  - name: m\n    start: 2025-03-01T10:00:00\n"
        "    end: 2025-03-01T12:00:00+00:00\n",
        3,
        "give the time with an offset",
    ),
    (
        "inhibit without equal",
        "inhibit:\n  - name: i\n    source: {severity: critical}\n    target: {severity: low}\n",
        2,
        'needs an "equal" list',
    ),
    (
        "topology without catalogue",
        RULE_HEAD + "    topology: join\n",
        4,
        "needs the service catalogue",
    ),
]


@pytest.mark.parametrize(
    ("case", "text", "line", "message"), BAD_FILES, ids=[c[0] for c in BAD_FILES]
)
def test_bad_rule_file_reports_file_line_and_reason(
    tmp_path: Path, case: str, text: str, line: int, message: str
) -> None:
    path = write(tmp_path / "rules", "10-bad.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_ruleset(tmp_path / "rules", None)
    assert any(
        problem.startswith(f"{path}:{line}: ") and message in problem
        for problem in caught.value.problems
    ), caught.value.problems


def test_every_problem_of_every_file_is_reported_together(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    write(rules_dir, "10-a.yaml", RULE_HEAD + "    match: {resource: {regex: '('}}\n")
    write(
        rules_dir,
        "20-b.yaml",
        "rules:\n  - name: r2\n    description: d\n    set: {title: '{nope}'}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_ruleset(rules_dir, None)
    files = {problem.split(":", 1)[0] for problem in caught.value.problems}
    assert files == {str(rules_dir / "10-a.yaml"), str(rules_dir / "20-b.yaml")}


def test_duplicate_rule_name_across_files_points_at_the_first(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    write(rules_dir, "10-a.yaml", RULE_HEAD)
    second = write(rules_dir, "20-b.yaml", RULE_HEAD)
    with pytest.raises(ConfigError) as caught:
        load_ruleset(rules_dir, None)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{second}:2: ")
    assert f'rule "r1" is already defined at {rules_dir / "10-a.yaml"}:2' in problem


def test_settings_in_two_files_is_an_error(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    write(rules_dir, "10-a.yaml", "settings: {close_after: 3d}\n")
    write(rules_dir, "20-b.yaml", "settings: {close_after: 4d}\n")
    with pytest.raises(ConfigError, match='"settings" is already set in'):
        load_ruleset(rules_dir, None)


def test_missing_rules_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_ruleset(tmp_path / "nowhere", None)


def test_files_load_in_name_order(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    for name in ("20-late.yaml", "10-early.yaml"):
        rule = name.removesuffix(".yaml")
        write(rules_dir, name, f"rules:\n  - name: {rule}\n    description: d\n")
    loaded = load_ruleset(rules_dir, None)
    assert [rule.name for rule in loaded.rules] == ["10-early", "20-late"]


def test_version_is_a_content_hash(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    write(rules_dir, "10-a.yaml", RULE_HEAD)
    first = load_ruleset(rules_dir, None).version
    assert load_ruleset(rules_dir, None).version == first
    write(rules_dir, "10-a.yaml", RULE_HEAD + "    priority: P1\n")
    assert load_ruleset(rules_dir, None).version != first
    assert len(first) == 12


@pytest.mark.parametrize(
    ("state", "status", "outcome", "action"),
    [
        (State(), EventStatus.FIRING, EventOutcome.NEW, IncidentAction.OPEN),
        (
            State(event=stored(), incident=incident()),
            EventStatus.FIRING,
            EventOutcome.DEDUPLICATED,
            IncidentAction.UPDATE,
        ),
        (
            State(event=stored(), incident=incident()),
            EventStatus.RESOLVED,
            EventOutcome.RESOLVED,
            IncidentAction.RESOLVE,
        ),
        (State(), EventStatus.RESOLVED, EventOutcome.RESOLVED, IncidentAction.NONE),
    ],
)
def test_empty_rules_directory_behaves_like_the_placeholder(
    tmp_path: Path,
    state: State,
    status: EventStatus,
    outcome: EventOutcome,
    action: IncidentAction,
) -> None:
    loaded = ruleset(tmp_path)
    alert = event(status=status)
    decision = loaded.evaluate(alert, state, NOW)
    assert (decision.outcome, decision.action) == (outcome, action)
    assert decision.fingerprint == alert.default_fingerprint() == decision.correlation_key
    assert loaded.lookup(alert, NOW).fingerprint == decision.fingerprint


@pytest.mark.parametrize(
    ("severity", "priority"),
    [
        ("critical", Priority.P1),
        ("high", Priority.P2),
        ("medium", Priority.P3),
        ("low", Priority.P4),
        ("info", Priority.P4),
    ],
)
def test_default_priority_follows_severity(
    tmp_path: Path, severity: str, priority: Priority
) -> None:
    from core.records import Severity

    decision = ruleset(tmp_path).evaluate(event(severity=Severity(severity)), State(), NOW)
    assert decision.incident.priority is priority


def test_source_fingerprint_is_used_when_given(tmp_path: Path) -> None:
    decision = ruleset(tmp_path).evaluate(event(fingerprint="am-123"), State(), NOW)
    assert decision.fingerprint == "am-123"


def test_problems_are_listed_in_file_and_line_order(tmp_path: Path) -> None:
    # Rules are compiled before inhibit rules, but the inhibit section comes first.
    text = (
        "inhibit:\n  - {name: i, source: {a: b}, target: {c: {regex: '('}}, equal: [x]}\n"
        + RULE_HEAD.lstrip("\n")
        + "    match: {resource: {regex: '('}}\n"
    )
    path = write(tmp_path / "rules", "10-a.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_ruleset(tmp_path / "rules", None)
    assert [problem.split(": ", 1)[0] for problem in caught.value.problems] == [
        f"{path}:2",
        f"{path}:6",
    ]
