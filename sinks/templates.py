"""Message bodies from sandboxed Jinja2 templates: shipped defaults, admin overrides.

Templates run in an immutable sandbox with StrictUndefined: a template can
read the delivery's context and nothing else, and a misspelt name is an
error, never an empty string in a ticket. JSON bodies are rendered with the
``tojson`` filter for every value and parsed back, so incident text cannot
break out of its string. A rendering error names the template and its line;
the dispatcher dead-letters that row while the others flow.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    FunctionLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment

from core.errors import ConfigError
from sinks.delivery import DeliveryFailed

SHIPPED = Path(__file__).resolve().parent.parent / "gateway" / "templates"


class TemplateFailed(DeliveryFailed):
    """A template could not render this delivery: not retryable, the row is dead-lettered."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


def _line_of(exc: BaseException) -> int | None:
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    # Jinja rewrites tracebacks so that frames point at template lines; the
    # innermost template frame is where it failed (an include's, if any)
    frames = traceback.extract_tb(exc.__traceback__)
    lines = [frame.lineno for frame in frames if frame.filename.endswith(".j2")]
    return lines[-1] if lines else None


def _describe(exc: BaseException, name: str, origin: str) -> str:
    line = _line_of(exc)
    where = f"template {name} ({origin})" + (f" line {line}" if line else "")
    return f"{where}: {type(exc).__name__}: {exc}"


class Templates:
    """The templates of one sink: shipped defaults with that sink's overrides."""

    def __init__(self, overrides: Mapping[str, Path], names: Mapping[str, str]) -> None:
        """``names`` maps a role (``summary``) to the shipped file (``ticket_summary.txt.j2``);
        ``overrides`` maps a role to an admin's file."""
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            known = ", ".join(sorted(names))
            raise ConfigError(f"templates: unknown name {', '.join(unknown)} (known: {known})")
        sources: dict[str, tuple[str, str]] = {}
        self._origins = {role: "shipped" for role in names}
        for role, path in overrides.items():
            try:
                sources[names[role]] = (path.read_text(encoding="utf-8"), str(path))
            except OSError as exc:
                raise ConfigError(f"templates.{role}: cannot read {path}: {exc.strerror}") from None
            self._origins[role] = str(path)

        def override(name: str) -> tuple[str, str, Callable[[], bool]] | None:
            found = sources.get(name)
            # the file name makes traceback frames (and so error lines) point at it
            return (found[0], found[1] + "#.j2", lambda: True) if found else None

        self._env = ImmutableSandboxedEnvironment(
            loader=ChoiceLoader([FunctionLoader(override), FileSystemLoader(SHIPPED)]),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            trim_blocks=False,
        )
        self._names = dict(names)
        self._compiled: dict[str, Template] = {}
        for role, file_name in names.items():
            try:
                self._compiled[role] = self._env.get_template(file_name)
            except TemplateError as exc:
                raise ConfigError(_describe(exc, file_name, self._origins[role])) from None

    def render(self, role: str, context: Mapping[str, Any]) -> str:
        try:
            return self._compiled[role].render(context).strip()
        except TemplateError as exc:
            raise TemplateFailed(_describe(exc, self._names[role], self._origins[role])) from exc
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            # errors raised by filters and operators on the template's data
            raise TemplateFailed(_describe(exc, self._names[role], self._origins[role])) from exc

    def render_line(self, role: str, context: Mapping[str, Any]) -> str:
        """One line for a header or a title: no CR, LF or other control characters."""
        text = self.render(role, context)
        return "".join(" " if ord(char) < 32 or ord(char) == 127 else char for char in text)

    def render_json(self, role: str, context: Mapping[str, Any]) -> Any:
        text = self.render(role, context)
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            origin = self._origins[role]
            raise TemplateFailed(
                f"template {self._names[role]} ({origin}) did not render JSON: {exc}"
            ) from exc
