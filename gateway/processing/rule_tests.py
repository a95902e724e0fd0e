"""The pure part of ``intake-gateway test-rules FILE...``, in the manner of ``promtool test rules``.

A test file names the rule set to test (paths relative to the file), a fixed
clock, and cases. Each case gives an input event (or a raw payload and the
parser kind that reads it), the stored state storage would load, and the
expected decision; only the keys written under ``expect`` are compared::

    rules_dir: ..                      # default: the folder above this file
    catalogue: ../../catalogue.yaml    # optional
    now: 2025-03-03T10:00:00+01:00
    tests:
      - name: a critical alert on the mail server opens a P1
        event: {source: alertmanager, kind: alertmanager, name: HostDown,
                resource: mx1, severity: critical, status: firing, summary: mx1 down}
        state: {}
        expect:
          outcome: new
          action: open
          incident: {priority: P1, service: mail}
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, TypeAdapter, ValidationError

from core.errors import ConfigError, ParseError
from core.records import Channel, Event, IntakeRecord
from core.validation import Strict, validate
from core.yamldoc import Problems, YamlDocument, read_yaml
from parsers.base import ParserFactory
from parsers.registry import PARSERS
from rules.coverage import Coverage
from rules.decision import Decision, Lookup, RuleSet, State

RulesetLoader = Callable[[Path, Path | None], RuleSet]

_EVENT = TypeAdapter(Event)
_STATE = TypeAdapter(State)
_DECISION = TypeAdapter(Decision)
_LOOKUP = TypeAdapter(Lookup)


class CaseSpec(Strict):
    name: str
    now: datetime | None = None
    event: dict[str, Any] | None = None
    payload: Any = None  # JSON value, or text for mail
    parser: str | None = None
    parser_options: dict[str, Any] = Field(default_factory=dict)
    event_index: int = 0  # which of the parsed events to evaluate
    state: dict[str, Any] = Field(default_factory=dict)
    expect: dict[str, Any]
    expect_lookup: dict[str, Any] = Field(default_factory=dict)


class TestFileSpec(Strict):
    rules_dir: str = ".."
    catalogue: str | None = None
    now: datetime
    tests: list[CaseSpec]


@dataclass(frozen=True, slots=True)
class CaseFailure:
    where: str  # file:line of the case
    name: str
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TestReport:
    passed: int
    failures: tuple[CaseFailure, ...]
    errors: tuple[str, ...]  # files that could not be run at all
    uncovered: tuple[str, ...] = ()  # named parts of a rule set no test exercised

    @property
    def exit_status(self) -> int:
        return 0 if not self.failures and not self.errors else 1

    def render(self) -> str:
        lines: list[str] = [*self.errors]
        for failure in self.failures:
            lines.append(f'{failure.where}: FAILED "{failure.name}"')
            lines += [f"    {problem}" for problem in failure.problems]
        lines += self.uncovered
        lines.append(f"{self.passed} passed, {len(self.failures)} failed")
        return "\n".join(lines)


Spec = TypeVar("Spec", bound=Strict)


def read_spec(path: Path, model: type[Spec], errors: list[str]) -> tuple[YamlDocument, Spec] | None:
    """A test file read and validated, or None with its problems added to ``errors``."""
    problems = Problems()
    doc = read_yaml(path, problems)
    spec = validate(model, doc, problems) if doc is not None else None
    if doc is None or spec is None:
        errors += problems.as_list()
        return None
    return doc, spec


def is_scenario_file(path: Path) -> bool:
    """A test file with ``scenarios:`` (run by gateway.processing.scenarios), not single
    ``tests:``."""
    doc = read_yaml(path, Problems())
    return doc is not None and isinstance(doc.data, dict) and "scenarios" in doc.data


def run_rule_tests(
    paths: list[Path],
    ruleset_loader: RulesetLoader,
    parsers: Mapping[str, ParserFactory] | None = None,
    coverage: Coverage | None = None,
) -> TestReport:
    runner = _Runner(ruleset_loader, PARSERS if parsers is None else parsers, coverage)
    for path in paths:
        runner.run_file(path)
    return TestReport(runner.passed, tuple(runner.failures), tuple(runner.errors))


class _Runner:
    def __init__(
        self,
        loader: RulesetLoader,
        parsers: Mapping[str, ParserFactory],
        coverage: Coverage | None,
    ) -> None:
        self._loader = loader
        self._parsers = parsers
        self._coverage = coverage or Coverage()
        self._rulesets: dict[tuple[Path, Path | None], RuleSet] = {}
        self.passed = 0
        self.failures: list[CaseFailure] = []
        self.errors: list[str] = []

    def run_file(self, path: Path) -> None:
        read = read_spec(path, TestFileSpec, self.errors)
        if read is None:
            return
        doc, spec = read
        base = path.parent
        catalogue = (base / spec.catalogue).resolve() if spec.catalogue else None
        rules_dir = (base / spec.rules_dir).resolve()
        ruleset = self._ruleset(rules_dir, catalogue)
        if ruleset is None:
            return
        self._coverage.track(str(rules_dir), ruleset)
        for index, case in enumerate(spec.tests):
            where = doc.where(("tests", index))
            found, decided = _run_case(case, ruleset, case.now or spec.now, self._parsers)
            if decided is not None:
                self._coverage.saw(str(rules_dir), decided)
            if found:
                self.failures.append(CaseFailure(where, case.name, tuple(found)))
            else:
                self.passed += 1

    def _ruleset(self, rules_dir: Path, catalogue: Path | None) -> RuleSet | None:
        key = (rules_dir, catalogue)
        if key not in self._rulesets:
            try:
                self._rulesets[key] = self._loader(rules_dir, catalogue)
            except ConfigError as exc:
                self.errors += exc.problems
                return None
        return self._rulesets[key]


def _run_case(
    case: CaseSpec, ruleset: RuleSet, now: datetime, parsers: Mapping[str, ParserFactory]
) -> tuple[list[str], Decision | None]:
    """What differs from the expectation, and the decision (None if the input is bad)."""
    try:
        event = _input_event(case, now, parsers)
        state = _STATE.validate_python(case.state)
        _check_keys(State, case.state, "state")
    except (ValidationError, ParseError, ValueError) as exc:
        return [f"the case's input is not valid: {exc}"], None
    lookup = _LOOKUP.dump_python(ruleset.lookup(event, now), mode="json")
    decided = ruleset.evaluate(event, state, now)
    problems = compare(case.expect, _DECISION.dump_python(decided, mode="json"), "")
    problems += compare(case.expect_lookup, lookup, "lookup.")
    return problems, decided


def _input_event(case: CaseSpec, now: datetime, parsers: Mapping[str, ParserFactory]) -> Event:
    if case.event is not None:
        data = {"occurred_at": now, **case.event}
        _check_keys(Event, data, "event")
        return _EVENT.validate_python(data)
    if case.parser is None or case.payload is None:
        raise ValueError('give either "event", or "payload" with "parser"')
    factory = parsers.get(case.parser)
    if factory is None:
        raise ValueError(f'unknown parser "{case.parser}" (known: {", ".join(sorted(parsers))})')
    raw = case.payload if isinstance(case.payload, str) else json.dumps(case.payload, default=str)
    record = IntakeRecord(
        id=0,
        channel=Channel.HTTP,
        source=case.parser,
        kind=case.parser,
        received_at=now,
        raw=raw.encode("utf-8"),
        meta={"content_type": "application/json"},
    )
    events = factory(case.parser_options).parse(record)
    if not 0 <= case.event_index < len(events):
        raise ValueError(f"the parser gave {len(events)} events, no event {case.event_index}")
    return events[case.event_index]


def _check_keys(cls: type[Any], data: Any, path: str) -> None:
    """Reject keys a dataclass does not have (pydantic ignores them), recursively."""
    if not isinstance(data, Mapping) or not is_dataclass(cls):
        return
    hints = typing.get_type_hints(cls)
    known = {item.name for item in fields(cls)}
    for key, value in data.items():
        if key not in known:
            raise ValueError(f'{path}: unknown field "{key}" (known: {", ".join(sorted(known))})')
        for inner in _dataclasses_in(hints[key]):
            items = value if isinstance(value, list) else [value]
            for item in items:
                _check_keys(inner, item, f"{path}.{key}")


def _dataclasses_in(hint: Any) -> list[type[Any]]:
    if isinstance(hint, type) and is_dataclass(hint):
        return [hint]
    return [found for arg in typing.get_args(hint) for found in _dataclasses_in(arg)]


def compare(expected: Any, actual: Any, path: str) -> list[str]:
    """Only what is written in ``expected`` counts; mappings compare as subsets."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{path.rstrip('.')}: expected {expected!r}, got {actual!r}"]
        problems: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}{key}: there is no such field in a decision")
                continue
            problems += compare(value, actual[key], f"{path}{key}.")
        return problems
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [
            problem
            for index, (want, got) in enumerate(zip(expected, actual, strict=True))
            for problem in compare(want, got, f"{path}{index}.")
        ]
    if _same_value(expected, actual):
        return []
    return [f"{path.rstrip('.')}: expected {expected!r}, got {actual!r}"]


def _same_value(expected: Any, actual: Any) -> bool:
    if expected == actual:
        return True
    # Times compare as instants, whatever offset either side is written in.
    want, got = _as_time(expected), _as_time(actual)
    return want is not None and got is not None and want == got


def _as_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None
