"""Simple matchers (=, !=, =~, !~, in, not in, exists) compiled to small closures.

They cover the common case without an expression engine: one dict lookup and
one comparison each. A field or label the event does not have reads as the
empty string, as in Alertmanager, so ``team != db`` matches events without a
``team`` label. Regular expressions are anchored at both ends, also as in
Alertmanager and Prometheus.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rules.draft import Draft
from rules.fields import Getter, field_getter, label_or_field_getter

Predicate = Callable[[Draft], bool]

# The YAML spelling of each operator in a ``match:`` block.
YAML_OPERATORS = {
    "equals": "=",
    "not_equals": "!=",
    "regex": "=~",
    "not_regex": "!~",
    "in": "in",
    "not_in": "not_in",
    "exists": "exists",
}


class MatcherError(ValueError):
    """A matcher that cannot be compiled; the message is for the admin."""


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise MatcherError(f"expected a single value, got {_describe(value)}")


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise MatcherError(f'the regular expression "{pattern}" does not compile: {exc}') from exc


def _equals(get: Getter, want: str) -> Predicate:
    return lambda d: (get(d) or "") == want


def _not_equals(get: Getter, want: str) -> Predicate:
    return lambda d: (get(d) or "") != want


def _regex_match(get: Getter, pattern: re.Pattern[str]) -> Predicate:
    return lambda d: pattern.fullmatch(get(d) or "") is not None


def _regex_no_match(get: Getter, pattern: re.Pattern[str]) -> Predicate:
    return lambda d: pattern.fullmatch(get(d) or "") is None


def _member(get: Getter, allowed: frozenset[str]) -> Predicate:
    return lambda d: (get(d) or "") in allowed


def _not_member(get: Getter, allowed: frozenset[str]) -> Predicate:
    return lambda d: (get(d) or "") not in allowed


def _exists(get: Getter, wanted: bool) -> Predicate:
    return lambda d: bool(get(d)) is wanted


def _values(value: Any) -> frozenset[str]:
    if not isinstance(value, list | tuple) or not value:
        raise MatcherError("expected a non-empty list of values")
    return frozenset(_scalar(item) for item in value)


def _exists_flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise MatcherError("exists takes true or false")
    return value


_BUILDERS: dict[str, Callable[[Getter, Any], Predicate]] = {
    "=": lambda get, v: _equals(get, _scalar(v)),
    "!=": lambda get, v: _not_equals(get, _scalar(v)),
    "=~": lambda get, v: _regex_match(get, _regex(_scalar(v))),
    "!~": lambda get, v: _regex_no_match(get, _regex(_scalar(v))),
    "in": lambda get, v: _member(get, _values(v)),
    "not_in": lambda get, v: _not_member(get, _values(v)),
    "exists": lambda get, v: _exists(get, _exists_flag(v)),
}


def compile_matcher(get: Getter, op: str, value: Any) -> Predicate:
    builder = _BUILDERS.get(op)
    if builder is None:
        raise MatcherError(f'unknown operator "{op}" (use one of {", ".join(_BUILDERS)})')
    return builder(get, value)


def compile_block(block: Mapping[str, Any], *, bare_names_are_labels: bool = False) -> Predicate:
    """A ``match:`` mapping -> one predicate; all entries must match.

    ``field: value`` means equals, ``field: [a, b]`` means in, and
    ``field: {regex: ...}`` (or another operator from YAML_OPERATORS) spells
    the rest. Raises MatcherError naming the offending field.
    """
    predicates: list[Predicate] = []
    for name, spec in block.items():
        predicates.extend(
            compile_entry(str(name), spec, bare_names_are_labels=bare_names_are_labels)
        )
    return all_of(predicates)


def compile_entry(name: str, spec: Any, *, bare_names_are_labels: bool = False) -> list[Predicate]:
    """The predicates of one ``name: spec`` entry of a ``match:`` block."""
    resolve = label_or_field_getter if bare_names_are_labels else field_getter
    try:
        return _entry_predicates(resolve(name), spec)
    except (MatcherError, ValueError) as exc:
        raise MatcherError(f"{name}: {exc}") from exc


def _entry_predicates(get: Getter, spec: Any) -> list[Predicate]:
    if isinstance(spec, Mapping):
        if not spec:
            raise MatcherError("an empty operator block matches nothing useful")
        predicates = []
        for key, value in spec.items():
            op = YAML_OPERATORS.get(str(key))
            if op is None:
                raise MatcherError(
                    f'unknown operator "{key}" (use one of {", ".join(YAML_OPERATORS)})'
                )
            predicates.append(compile_matcher(get, op, value))
        return predicates
    if isinstance(spec, list):
        return [compile_matcher(get, "in", spec)]
    return [compile_matcher(get, "=", spec)]


def compile_triples(triples: Sequence[tuple[str, str, str]]) -> Predicate:
    """Silence matchers as stored: (name, op, value) with op in = != =~ !~."""
    return all_of(
        [compile_matcher(label_or_field_getter(name), op, value) for name, op, value in triples]
    )


def all_of(predicates: Sequence[Predicate]) -> Predicate:
    """One predicate for a conjunction, without a loop for the usual one or two."""
    match len(predicates):
        case 0:
            return lambda d: True
        case 1:
            return predicates[0]
        case 2:
            first, second = predicates
            return lambda d: first(d) and second(d)
    frozen = tuple(predicates)

    def every(draft: Draft) -> bool:
        for predicate in frozen:  # noqa: SIM110 - a loop beats all(genexpr) here
            if not predicate(draft):
                return False
        return True

    return every
