"""Hypothesis over every parser kind and the edge's tally.

Whatever a sender posts, a parser either makes events or raises ParseError
(which the edge answers 400 with its reason): any other exception would be
a 500 at the edge or a record lost in the pipeline. Where the edge answers on
a parser's tally (alert groups), the tally vouches only for bodies that parse,
with the same counts. Inputs: arbitrary JSON (nesting included, past the
bound too), the golden payloads with fields replaced or added, and raw bytes.
The budget is ``max_examples`` per kind and shape (a few seconds in all).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ParseError
from parsers.base import Tally, Tallying
from parsers.jsondoc import MAX_JSON_DEPTH
from parsers.registry import PARSERS
from tests.unit.test_parser_tally import nested, places_with_new_keys, put
from tests.unit.test_parsers_alerts import make_record

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JSON_KINDS = ("generic", "alertmanager", "grafana", "zabbix", "nagios", "icinga")
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "firing",
            "resolved",
            "OK",
            "PROBLEM",
            "critical",
            "4",
            "0001-01-01T00:00:00Z",
            "2024-05-03T12:00:00Z",
            "9999-12-31T23:59:59-23:59",
            '[{"tag": 1}]',
            "",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
# nesting around the bound, wherever it is put
deep_values = st.integers(min_value=MAX_JSON_DEPTH - 8, max_value=MAX_JSON_DEPTH + 8).map(
    nested
) | st.just(nested(300))


def golden_documents(kind: str) -> list[Any]:
    folder = "generic" if kind == "generic" else f"alerts/{'nagios' if kind == 'icinga' else kind}"
    found = []
    for path in sorted((FIXTURES / folder).glob("*.json")):
        if not path.name.endswith((".expected.json", ".options.json")):
            found.append(json.loads(path.read_text()))
    assert found, f"no golden payloads for {kind}"
    return found


@st.composite
def mutated_golden(draw: st.DrawFn, kind: str) -> Any:
    """A golden payload with one to three places replaced, or a new field added."""
    document = draw(st.sampled_from(golden_documents(kind)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        places = list(places_with_new_keys(document))
        if not places:
            break
        place = draw(st.sampled_from(places))
        document = put(document, place, draw(json_values | deep_values))
    return document


def as_body(document: Any) -> bytes:
    # the standard library writes what orjson refuses to (past 254 levels)
    return json.dumps(document).encode()


def check(kind: str, raw: bytes, content_type: str = "application/json") -> None:
    """Only ParseError may escape; a tally agrees with parse or abstains."""
    parser = PARSERS[kind]({})
    record = make_record(kind, raw, content_type)
    tally = parser.tally(record) if isinstance(parser, Tallying) else None
    try:
        parsed: Tally | ParseError = Tally.of(parser.parse(record))
    except ParseError as exc:
        parsed = exc
    assert tally is None or tally == parsed, (tally, parsed)


@pytest.mark.parametrize("kind", JSON_KINDS)
@FUZZ
@given(document=json_values | deep_values)
def test_any_json_is_parsed_or_refused(kind: str, document: Any) -> None:
    check(kind, as_body(document))


@pytest.mark.parametrize("kind", JSON_KINDS)
@FUZZ
@given(data=st.data())
def test_golden_payloads_with_odd_fields_are_parsed_or_refused(kind: str, data: Any) -> None:
    check(kind, as_body(data.draw(mutated_golden(kind))))


@pytest.mark.parametrize("kind", [*JSON_KINDS, "email"])
@FUZZ
@given(raw=st.binary(max_size=300))
def test_any_bytes_are_parsed_or_refused(kind: str, raw: bytes) -> None:
    check(kind, raw, "message/rfc822" if kind == "email" else "application/json")


@pytest.mark.parametrize("kind", ["nagios", "icinga"])
@FUZZ
@given(fields=st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=12))
def test_any_form_is_parsed_or_refused(kind: str, fields: dict[str, str]) -> None:
    check(kind, urlencode(fields).encode(), "application/x-www-form-urlencoded")


MAIL = sorted((FIXTURES / "mail").glob("*.eml"))


@FUZZ
@given(
    mail=st.sampled_from(MAIL).map(Path.read_bytes),
    cuts=st.lists(st.tuples(st.integers(min_value=0), st.binary(max_size=8)), max_size=4),
)
def test_mail_with_bytes_changed_is_parsed_or_refused(
    mail: bytes, cuts: list[tuple[int, bytes]]
) -> None:
    for position, replacement in cuts:
        at = position % (len(mail) + 1)
        mail = mail[:at] + replacement + mail[at + len(replacement) :]
    check("email", mail, "message/rfc822")
