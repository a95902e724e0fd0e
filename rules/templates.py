"""Field templates such as ``"{labels.instance|host} down"``, compiled at load.

``{field}`` inserts a field (names as in rules.fields; missing values are
empty), ``{field|filter}`` transforms it, ``{{`` and ``}}`` are literal braces.
Filters: ``lower``, ``upper``, ``host`` (drops a ``:port`` suffix) and
``default:TEXT`` (used when the value is empty). Rendering is a join of
precompiled parts, far cheaper than a general template engine, and a name that
can never exist is found at load time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rules.draft import Draft
from rules.fields import Getter, field_getter

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")

Filter = Callable[[str], str]


class TemplateError(ValueError):
    """A template that cannot be compiled; the message is for the admin."""


def _strip_port(value: str) -> str:
    if value.startswith("["):  # [ipv6]:port
        return value[1:].split("]", 1)[0]
    host, sep, port = value.rpartition(":")
    return host if sep and port.isdigit() and ":" not in host else value


_FILTERS: dict[str, Filter] = {
    "lower": str.lower,
    "upper": str.upper,
    "host": _strip_port,
}


def _filter(spec: str) -> Filter:
    name, sep, argument = spec.partition(":")
    name = name.strip()
    if name == "default" and sep:
        return lambda value: value or argument
    found = _FILTERS.get(name)
    if found is None:
        raise TemplateError(f'unknown filter "{name}" (use lower, upper, host or default:TEXT)')
    return found


@dataclass(frozen=True, slots=True)
class Text:
    """Literal text between placeholders."""

    text: str
    field: str = ""  # literal text reads no field

    def render(self, draft: Draft) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Placeholder:
    field: str
    get: Getter
    filters: tuple[Filter, ...]

    def render(self, draft: Draft) -> str:
        value = self.get(draft) or ""
        for transform in self.filters:
            value = transform(value)
        return value


@dataclass(frozen=True, slots=True)
class Template:
    source: str
    parts: tuple[Text | Placeholder, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(part.field for part in self.parts if part.field)

    def render(self, draft: Draft) -> str:
        return "".join([part.render(draft) for part in self.parts])

    def render_all_present(self, draft: Draft) -> str | None:
        """The text, or None when any placeholder is empty (a key must not be partial)."""
        pieces = [part.render(draft) for part in self.parts]
        if not all(pieces):
            return None  # literal parts are never empty, so an empty piece is a field
        return "".join(pieces)


def compile_template(text: str) -> Template:
    parts: list[Text | Placeholder] = []
    literal: list[str] = []
    position = 0
    for token in _TOKEN.finditer(text):
        literal.append(text[position : token.start()])
        position = token.end()
        raw = token.group(0)
        if raw in ("{{", "}}"):
            literal.append(raw[0])
            continue
        if token.group(1) is None:
            raise TemplateError(
                f'unmatched "{raw}" at position {token.start() + 1}; write "{raw}{raw}" '
                "for a literal brace"
            )
        if "".join(literal):
            parts.append(Text("".join(literal)))
        literal = []
        parts.append(_placeholder(token.group(1)))
    literal.append(text[position:])
    if "".join(literal):
        parts.append(Text("".join(literal)))
    return Template(source=text, parts=tuple(parts))


def _placeholder(body: str) -> Placeholder:
    name, *filter_specs = (piece.strip() for piece in body.split("|"))
    if not name:
        raise TemplateError("empty placeholder {}")
    try:
        get = field_getter(name)
    except ValueError as exc:
        raise TemplateError(str(exc)) from exc
    return Placeholder(name, get, tuple(_filter(spec) for spec in filter_specs))
