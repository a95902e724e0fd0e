"""``test-rules``: running rule test files and reporting like promtool."""

from __future__ import annotations

from pathlib import Path

from gateway.processing.rule_tests import is_scenario_file, run_rule_tests
from parsers.registry import PARSERS
from rules.loader import load_ruleset
from tests.unit.rules_support import write

RULES = """
rules:
  - name: db
    description: database alerts go to the DBAs
    match: {labels.team: db}
    set: {assignment_group: dba}
"""

CASES = """
now: 2025-03-03T10:00:00+01:00
tests:
  - name: passes
    event: {source: s, kind: k, name: n, resource: r, severity: high, status: firing,
            summary: x, labels: {team: db}}
    expect: {outcome: new, action: open, incident: {assignment_group: dba}}
    expect_lookup: {ci: r}
  - name: fails
    event: {source: s, kind: k, name: n, resource: r, severity: high, status: firing,
            summary: x, labels: {team: web}}
    state:
      incident: {id: 3, key: INC-000003, status: new, priority: P2, correlation_key: c,
                 created_at: 2025-03-03T09:00:00Z, updated_at: 2025-03-03T09:00:00Z}
    expect: {outcome: new, incident: {assignment_group: dba}}
"""


def layout(tmp_path: Path, cases: str = CASES) -> Path:
    write(tmp_path / "rules", "10-rules.yaml", RULES)
    return write(tmp_path / "rules" / "tests", "t.yaml", cases)


def test_report_passes_and_failures(tmp_path: Path) -> None:
    path = layout(tmp_path)
    report = run_rule_tests([path], load_ruleset)
    assert report.passed == 1
    (failure,) = report.failures
    assert failure.name == "fails"
    assert failure.where == f"{path}:8"
    assert failure.problems == (
        "outcome: expected 'new', got 'correlated'",
        "incident.assignment_group: expected 'dba', got ''",
    )
    assert report.exit_status == 1
    text = report.render()
    assert f'{path}:8: FAILED "fails"' in text
    assert text.endswith("1 passed, 1 failed")


def test_all_passing_exits_zero(tmp_path: Path) -> None:
    path = layout(tmp_path, CASES.split("  - name: fails")[0])
    report = run_rule_tests([path], load_ruleset)
    assert (report.passed, report.failures, report.exit_status) == (1, (), 0)


def test_bad_rules_are_reported_as_errors(tmp_path: Path) -> None:
    path = layout(tmp_path)
    write(tmp_path / "rules", "20-bad.yaml", "rules: [{name: x}]\n")
    report = run_rule_tests([path], load_ruleset)
    assert report.exit_status == 1
    assert any('"description" is required' in error for error in report.errors)


def test_bad_test_file_is_reported_with_line(tmp_path: Path) -> None:
    path = layout(tmp_path, "now: 2025-03-03T10:00:00Z\ntests:\n  - name: x\n    expct: {}\n")
    report = run_rule_tests([path], load_ruleset)
    assert any(error.startswith(f"{path}:4: ") for error in report.errors), report.errors


def test_unknown_state_field_fails_the_case(tmp_path: Path) -> None:
    cases = CASES.replace("correlation_key: c,", "correlation_key: c, colour: red,")
    report = run_rule_tests([layout(tmp_path, cases)], load_ruleset)
    assert any('unknown field "colour"' in problem for problem in report.failures[0].problems)


def test_unknown_expected_field_fails_the_case(tmp_path: Path) -> None:
    cases = CASES.replace(
        "expect: {outcome: new, action: open,", "expect: {outcom: new, action: open,"
    )
    report = run_rule_tests([layout(tmp_path, cases)], load_ruleset)
    assert report.failures[0].problems == ("outcom: there is no such field in a decision",)


def test_payload_through_a_parser(tmp_path: Path) -> None:
    cases = """
    now: 2025-03-03T10:00:00Z
    tests:
      - name: generic payload
        parser: generic
        payload: {name: Disk, resource: db1, severity: high, status: firing, labels: {team: db}}
        expect: {action: open, incident: {assignment_group: dba, ci: db1}}
    """
    report = run_rule_tests([layout(tmp_path, cases)], load_ruleset, PARSERS)
    assert report.render() == "1 passed, 0 failed"


def test_unknown_parser_fails_the_case(tmp_path: Path) -> None:
    cases = """
    now: 2025-03-03T10:00:00Z
    tests:
      - {name: p, parser: nope, payload: {}, expect: {}}
    """
    report = run_rule_tests([layout(tmp_path, cases)], load_ruleset, PARSERS)
    assert 'unknown parser "nope"' in report.failures[0].problems[0]


def test_the_shipped_example_rule_tests_pass() -> None:
    root = Path(__file__).resolve().parents[2]
    found = sorted((root / "config" / "rules" / "tests").glob("*.yaml"))
    # scenario files need the incident store: tests/integration/test_example_scenarios.py
    paths = [path for path in found if not is_scenario_file(path)]
    assert paths
    report = run_rule_tests(paths, load_ruleset)
    assert report.exit_status == 0, report.render()
    assert report.passed >= 20
