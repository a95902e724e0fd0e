"""CEL conditions: compiled at load, failures skip the rule and fall through."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.decision import State
from rules.expressions import ExpressionError, RuleFailure, compile_condition
from tests.unit.rules_support import NOW, draft, event, mail_event, ruleset

ALERT = event(labels={"alertname": "HostDown", "instance": "web1:9100", "count": "7"})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('labels.alertname == "HostDown" && severity == "high"', True),
        ('resource.startsWith("db")', False),
        ("int(labels.count) > 5", True),
        ('"instance" in labels && labels.instance.matches("^web")', True),
        ("impact == 3 && urgency < 4", True),
        ("has(labels.missing)", False),
        ('labels.missing == "x"', False),  # reading a label the event lacks: no match
        ('labels.exists(k, k == "alertname")', True),
        ("size(mail) == 0", True),
    ],
)
def test_condition(source: str, expected: bool) -> None:
    assert compile_condition(source).matches(draft(ALERT)) is expected


def test_mail_map() -> None:
    condition = compile_condition('mail.kind == "new" && mail.subject.matches("(?i)printer")')
    assert condition.matches(draft(mail_event()))


def test_variables_are_the_ones_read() -> None:
    assert set(compile_condition('labels.a == name || severity == "x"').variables) == {
        "labels",
        "name",
        "severity",
    }


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("name ==", "does not parse"),
        ("nmae == 'x'", '"nmae" is not a field'),
        ("lowerAscii(name) == 'x'", 'unknown function "lowerAscii"'),
    ],
)
def test_compile_errors(source: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        compile_condition(source)


@pytest.mark.parametrize(
    ("source", "message"),
    [("labels.count > 3", "failed"), ("name", "not true or false")],
)
def test_runtime_failures_raise_rule_failure(source: str, message: str) -> None:
    with pytest.raises(RuleFailure, match=message):
        compile_condition(source).matches(draft(ALERT))


def test_enrichment_is_visible_to_later_conditions(tmp_path: Path) -> None:
    loaded = ruleset(
        tmp_path,
        """
        rules:
          - name: set-service
            description: d
            set: {service: web}
            continue: true
          - name: on-web
            description: d
            when: 'service == "web"'
            set: {category: web-things}
        """,
    )
    decision = loaded.evaluate(event(), State(), NOW)
    assert decision.matched_rules == ("set-service", "on-web")
    assert decision.incident.category == "web-things"


def test_failing_rule_is_recorded_and_evaluation_falls_through(tmp_path: Path) -> None:
    loaded = ruleset(
        tmp_path,
        """
        rules:
          - name: wrong-type
            description: compares a string label with a number
            when: 'labels.count > 3'
            set: {category: never}
          - name: fallback
            description: d
            set: {category: fallback}
        """,
    )
    decision = loaded.evaluate(ALERT, State(), NOW)
    assert decision.matched_rules == ("fallback",)
    assert decision.incident.category == "fallback"
    assert len(decision.rule_errors) == 1
    assert decision.rule_errors[0].startswith("wrong-type: condition 'labels.count > 3' failed")
