"""Conditions in CEL, compiled at load, evaluated without Python's eval.

Backed by the ``common-expression-language`` package (a Rust CEL
implementation): about 40 times faster than cel-python on our conditions.
Variables are the field names of rules.fields at top level (``severity``,
``service``...), ``labels`` and ``annotations`` as maps, ``mail`` as a map
(empty when the event is not a mail), and ``impact``/``urgency`` as ints.

Converting values into CEL costs about a microsecond each, so a Draft holds
one CEL context per evaluation, filled only with the variables the conditions
actually read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cel

from rules.draft import Draft
from rules.fields import MAIL_FIELDS, TOP_LEVEL, mail_field_getter, unknown_field_message

_MACROS = ("all", "exists", "exists_one", "map", "filter")

# The functions this CEL implementation provides (no lowerAscii and friends:
# use matches("(?i)...") for case-insensitive tests).
_KNOWN_FUNCTIONS = frozenset(
    {
        "size", "matches", "startsWith", "endsWith", "contains", "int", "uint", "double",
        "string", "bytes", "timestamp", "duration", "type", "dyn", "has", "getFullYear",
        "getMonth", "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek", "getHours",
        "getMinutes", "getSeconds", "getMilliseconds", *_MACROS,
    }
)  # fmt: skip


class ExpressionError(ValueError):
    """A condition that does not compile; the message is for the admin."""


class RuleFailure(Exception):
    """A condition failed on one event; the rule is skipped for that event."""


def _mail_map(draft: Draft) -> dict[str, str]:
    mail = {attr: mail_field_getter(attr)(draft) for attr in MAIL_FIELDS}
    return {attr: value for attr, value in mail.items() if value is not None}


_VARIABLES: dict[str, Callable[[Draft], Any]] = {
    **TOP_LEVEL,
    "impact": lambda d: d.impact,
    "urgency": lambda d: d.urgency,
    "labels": lambda d: dict(d.event.labels),
    "annotations": lambda d: dict(d.event.annotations),
    "mail": _mail_map,
}


@dataclass(slots=True)
class _Context:
    """The per-evaluation CEL context and which variables it holds."""

    context: cel.Context
    loaded: set[str]


@dataclass(frozen=True, slots=True)
class Condition:
    source: str
    program: cel.Program
    variables: tuple[str, ...]

    def matches(self, draft: Draft) -> bool:
        try:
            result = self.program.execute(_context_for(draft, self.variables))
        except KeyError:
            return False  # a label or map key the event does not have: no match
        except (TypeError, ValueError, RuntimeError) as exc:
            raise RuleFailure(f"condition {self.source!r} failed: {_first_line(exc)}") from exc
        if not isinstance(result, bool):
            raise RuleFailure(f"condition {self.source!r} gave {result!r}, not true or false")
        return result


def _context_for(draft: Draft, variables: tuple[str, ...]) -> cel.Context:
    holder = draft.expression_context
    if not isinstance(holder, _Context):
        holder = _Context(cel.Context(), set())
        draft.expression_context = holder
    for name in variables:
        if name not in holder.loaded:
            holder.context.add_variable(name, _VARIABLES[name](draft))
            holder.loaded.add(name)
    return holder.context


def _first_line(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0][:200]


def compile_condition(source: str) -> Condition:
    try:
        program = cel.compile(source)
    except ValueError as exc:
        raise ExpressionError(f"the condition does not parse: {_syntax_message(exc)}") from exc
    variables = []
    for name in program.variables():
        if name in _VARIABLES:
            variables.append(name)
        elif not _bound_by_macro(source, name):
            raise ExpressionError(unknown_field_message(name))
    unknown = [
        name
        for name in program.functions()
        if not name.startswith(("_", "@", "!")) and name not in _KNOWN_FUNCTIONS
    ]
    if unknown:
        raise ExpressionError(
            f'unknown function "{unknown[0]}" in the condition (known: '
            f"{', '.join(sorted(_KNOWN_FUNCTIONS))})"
        )
    return Condition(source=source, program=program, variables=tuple(variables))


def _bound_by_macro(source: str, name: str) -> bool:
    pattern = rf"\.(?:{'|'.join(_MACROS)})\(\s*{re.escape(name)}\s*,"
    return re.search(pattern, source) is not None


def _syntax_message(exc: ValueError) -> str:
    text = str(exc)
    match = re.search(r"ERROR: <input>:(\d+):(\d+): (.*)", text)
    if match is None:
        return _first_line(exc)
    return f"column {match.group(2)}: {match.group(3)}"
