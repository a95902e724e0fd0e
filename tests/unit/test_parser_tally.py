"""A parser's tally vouches only for what its parse accepts, with the same counts.

The webhook edge answers 202 on a tally alone and the pipeline parses later,
so a tally that vouched for a body parse rejects would acknowledge bad input
that can then never become events. These tests hold ``tally`` to its
contract on the golden payloads, on every bad-input case, and on thousands
of mutations of the golden payloads.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import ParseError
from parsers.base import Tally, Tallying
from parsers.jsondoc import MAX_JSON_DEPTH
from tests.unit.test_parsers_alerts import (
    BAD_INPUT,
    FACTORIES,
    FIXTURES,
    make_record,
    side_file,
)

TALLYING_KINDS = ("alertmanager", "grafana")


def nested(levels: int, leaf: Any = "x") -> Any:
    """``leaf`` inside ``levels`` arrays."""
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


# Values a mutation puts somewhere in a payload: what senders get wrong, and right.
ODD_VALUES: tuple[Any, ...] = (
    None,
    "",
    "firing",
    "resolved",
    "FIRING",
    " resolved ",
    "pending",
    "4",
    "1",
    4,
    -1,
    0,
    7.5,
    True,
    [],
    {},
    ["firing"],
    {"alertname": "X"},
    {"alertname": 1},
    {"alertname": None},
    {"alertname": {"nested": "x"}},
    "0001-01-01T00:00:00Z",
    "2024-05-03T12:00:00+02:00",
    "2024-05-03T12:00:00.123456789Z",
    "2024-05-03 12:00:00",
    "9999-12-31T23:59:59-23:59",
    "yesterday",
    "x" * 5000,
    # nesting: within the bound wherever it lands, past it wherever it lands, far past
    nested(MAX_JSON_DEPTH // 2),
    {"deep": nested(MAX_JSON_DEPTH)},
    nested(300),
)


def fixture_payloads(kind: str) -> list[tuple[Path, Any, dict[str, Any]]]:
    found = []
    for path in sorted((FIXTURES / kind).glob("*.json")):
        if path.name.endswith((".expected.json", ".options.json")):
            continue
        options_file = side_file(path, ".options.json")
        options = json.loads(options_file.read_text()) if options_file.exists() else {}
        found.append((path, json.loads(path.read_text()), options))
    return found


def tally_and_parse(kind: str, body: bytes, options: dict[str, Any]) -> tuple[Any, Any]:
    """(tally, Tally of parse's events or the ParseError it raised)."""
    parser = FACTORIES[kind](options)
    assert isinstance(parser, Tallying)
    record = make_record(kind, body)
    tally = parser.tally(record)
    try:
        parsed: Tally | ParseError = Tally.of(parser.parse(record))
    except ParseError as exc:
        parsed = exc
    return tally, parsed


@pytest.mark.parametrize("kind", TALLYING_KINDS)
def test_golden_alert_groups_are_tallied_with_parse_counts(kind: str) -> None:
    groups = [item for item in fixture_payloads(kind) if "alerts" in item[1]]
    assert groups, f"no alert-group fixtures for {kind}"
    for path, document, options in groups:
        tally, parsed = tally_and_parse(kind, json.dumps(document).encode(), options)
        assert tally is not None, f"{path.name}: a plain alert group must be tallied"
        assert tally == parsed, path.name


def test_grafana_legacy_payloads_are_left_to_parse() -> None:
    legacy = [item for item in fixture_payloads("grafana") if "alerts" not in item[1]]
    assert legacy
    for path, document, options in legacy:
        tally, parsed = tally_and_parse("grafana", json.dumps(document).encode(), options)
        assert tally is None, path.name
        assert isinstance(parsed, Tally), path.name


@pytest.mark.parametrize(
    "case",
    [row for row in BAD_INPUT if row[0] in TALLYING_KINDS],
    ids=lambda row: f"{row[0]}: {row[1]}",
)
def test_bad_input_is_never_tallied(case: tuple[str, str, Any, str, str]) -> None:
    kind, _, body, reason, _ = case
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    tally, parsed = tally_and_parse(kind, raw, {})
    assert isinstance(parsed, ParseError) and parsed.reason == reason
    assert tally is None


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON document, as a path of keys and indexes."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def mutate(document: Any, rng: random.Random) -> Any:
    """A copy with one to three places replaced by an odd value or removed."""
    result = copy.deepcopy(document)
    for _ in range(rng.randint(1, 3)):
        places = [path for path in paths(result) if path]
        if not places:
            return result
        path = rng.choice(places)
        parent = result
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and rng.random() < 0.25:
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
    return result


@pytest.mark.parametrize("kind", TALLYING_KINDS)
def test_mutated_payloads_are_tallied_only_when_parse_agrees(kind: str) -> None:
    rng = random.Random(f"tally-{kind}")
    vouched = refused = 0
    for path, document, options in fixture_payloads(kind):
        for number in range(1500):
            mutated = mutate(document, rng)
            tally, parsed = tally_and_parse(kind, json.dumps(mutated).encode(), options)
            if tally is None:
                refused += 1
                continue
            vouched += 1
            assert tally == parsed, f"{path.name} mutation {number}: {json.dumps(mutated)[:400]}"
    # both outcomes must occur, or the test proves nothing
    assert vouched > 500 and refused > 500, (vouched, refused)


def places_with_new_keys(document: Any) -> Iterator[tuple[Any, ...]]:
    """Every place in a document, and a new key in every object (a field nobody reads)."""
    for path in paths(document):
        if path:
            yield path
        node = document
        for step in path:
            node = node[step]
        if isinstance(node, dict):
            yield (*path, "unread_field")


def put(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    result = copy.deepcopy(document)
    parent = result
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return result


@pytest.mark.parametrize("kind", TALLYING_KINDS)
def test_nesting_past_the_bound_in_any_field_is_refused_by_tally_and_parse(kind: str) -> None:
    """The edge answers on the tally, so a body parse refuses must never be tallied:
    a value nested past the bound is refused in every field, read or not, and one
    just within it is tallied only as parse counts it."""
    checked = 0
    for fixture, document, options in fixture_payloads(kind):
        for place in places_with_new_keys(document):
            # the root object is level 1, a container at ``place`` is level len(place) + 1
            fitting = MAX_JSON_DEPTH - len(place)
            too_deep = put(document, place, nested(fitting + 1))
            tally, parsed = tally_and_parse(kind, json.dumps(too_deep).encode(), options)
            where = f"{fixture.name} at {place}"
            assert tally is None, where
            assert isinstance(parsed, ParseError) and parsed.reason == "too_deep", where
            within = put(document, place, nested(fitting))
            tally, parsed = tally_and_parse(kind, json.dumps(within).encode(), options)
            assert tally is None or tally == parsed, where
            checked += 1
    assert checked > 100, checked
