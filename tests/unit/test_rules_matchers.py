"""Simple matchers over fields and labels, as compiled closures."""

from __future__ import annotations

from typing import Any

import pytest

from core.records import MailKind
from rules.matchers import MatcherError, compile_block, compile_triples
from tests.unit.rules_support import draft, event, mail_event

ALERT = event(labels={"alertname": "HostDown", "instance": "web1:9100", "team": "web"})

CASES: list[tuple[dict[str, Any], bool]] = [
    ({"kind": "alertmanager"}, True),
    ({"kind": "zabbix"}, False),
    ({"labels.team": "web"}, True),
    ({"labels.team": {"equals": "db"}}, False),
    ({"labels.team": {"not_equals": "db"}}, True),
    ({"labels.missing": {"not_equals": "db"}}, True),  # absent reads as empty
    ({"resource": {"regex": "web[0-9]+:.*"}}, True),
    ({"resource": {"regex": "web"}}, False),  # anchored at both ends
    ({"resource": {"not_regex": "db.*"}}, True),
    ({"labels.team": ["db", "web"]}, True),
    ({"labels.team": {"in": ["db"]}}, False),
    ({"labels.team": {"not_in": ["db"]}}, True),
    ({"labels.team": {"exists": True}}, True),
    ({"labels.missing": {"exists": True}}, False),
    ({"labels.missing": {"exists": False}}, True),
    ({"severity": "high", "status": "firing"}, True),
    ({"severity": "high", "status": "resolved"}, False),
    ({"kind": "alertmanager", "labels.team": "web", "resource": {"regex": "web.*"}}, True),
    ({"kind": "alertmanager", "labels.team": "web", "resource": {"regex": "db.*"}}, False),
    ({"mail.kind": "new"}, False),  # not a mail
]


@pytest.mark.parametrize(("block", "expected"), CASES)
def test_match_block(block: dict[str, Any], expected: bool) -> None:
    assert compile_block(block)(draft(ALERT)) is expected


def test_enriched_fields_are_matched_not_the_raw_event() -> None:
    working = draft()
    working.service = "web"
    assert compile_block({"service": "web"})(working)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"mail.kind": "new"}, True),
        ({"mail.sender": {"regex": ".*@example.org"}}, True),
        ({"mail.kind": "reply"}, False),
    ],
)
def test_mail_fields(block: dict[str, Any], expected: bool) -> None:
    assert compile_block(block)(draft(mail_event(MailKind.NEW))) is expected


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"resource": {"regex": "("}}, "does not compile"),
        ({"resource": {"in": []}}, "non-empty list"),
        ({"resource": {"exists": "yes"}}, "true or false"),
        ({"resource": {"equals": ["a"]}}, "single value"),
        ({"resource": {}}, "empty operator block"),
        ({"bogus": "x"}, '"bogus" is not a field'),
    ],
)
def test_bad_matchers_explain_themselves(block: dict[str, Any], message: str) -> None:
    with pytest.raises(MatcherError, match=message):
        compile_block(block)


@pytest.mark.parametrize(
    ("triples", "expected"),
    [
        ((("alertname", "=", "HostDown"),), True),  # bare names are labels
        ((("labels.team", "!=", "web"),), False),
        ((("instance", "=~", "web.*"), ("team", "!~", "db")), True),
        ((("severity", "=", "high"),), True),  # an event field name wins over a label
        ((("team", "=~", "we"),), False),
    ],
)
def test_silence_triples(triples: tuple[tuple[str, str, str], ...], expected: bool) -> None:
    assert compile_triples(triples)(draft(ALERT)) is expected


def test_silence_with_unknown_operator_is_rejected() -> None:
    with pytest.raises(MatcherError, match="unknown operator"):
        compile_triples((("team", "~=", "x"),))
