"""Field templates: rendering, filters, and load-time errors."""

from __future__ import annotations

import pytest

from rules.templates import TemplateError, compile_template
from tests.unit.rules_support import draft, event

ALERT = event(labels={"instance": "web1:9100", "team": "Web", "addr": "[::1]:80"})


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("plain text", "plain text"),
        ("{name} on {resource}", "HostDown on web1:9100"),
        ("{labels.instance|host}", "web1"),
        ("{labels.addr|host}", "::1"),
        ("{labels.team|lower}/{labels.team|upper}", "web/WEB"),
        ("{labels.missing}", ""),
        ("{labels.missing|default:none}", "none"),
        ("{{literal}} {severity}", "{literal} high"),
        ("{ labels.team | lower }", "web"),
    ],
)
def test_render(text: str, rendered: str) -> None:
    assert compile_template(text).render(draft(ALERT)) == rendered


def test_render_all_present_refuses_partial_keys() -> None:
    template = compile_template("{service}:{name}")
    working = draft(ALERT)
    assert template.render_all_present(working) is None
    working.service = "web"
    assert template.render_all_present(working) == "web:HostDown"


def test_fields_are_listed() -> None:
    assert compile_template("{name}-{labels.x}").fields == ("name", "labels.x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{servce}", 'did you mean "service"'),
        ("{mail.nope}", "is not a field"),
        ("{labels.}", "is not a field"),
        ("{}", "empty placeholder"),
        ("a { b", 'unmatched "{"'),
        ("{name|reverse}", 'unknown filter "reverse"'),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        compile_template(text)
