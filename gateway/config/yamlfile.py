"""YAML files with line numbers, and validation errors reported as ``file:line: message``.

ruamel.yaml's round-trip loader remembers where each key and item came from;
pydantic reports a location path (``("integrations", 0, "kind")``). Walking
the path through the loaded document gives the line of the offending value,
so an admin sees ``config/gateway.yaml:14: ...`` instead of a stack trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from core.errors import ConfigError
from core.yamldoc import line_in


def load_yaml(path: Path) -> Any:
    """Load one YAML file, keeping line information; ConfigError on any failure."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}:0: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}:0: cannot read file: {exc}") from None
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        problem = exc.problem or str(exc)
        raise ConfigError(f"{path}:{line}: YAML syntax error: {problem}") from None
    except YAMLError as exc:
        raise ConfigError(f"{path}:0: YAML error: {exc}") from None


def line_of(document: Any, location: Sequence[int | str]) -> int:
    """The 1-based line of the value at ``location``, or of its nearest parent."""
    return line_in(document, location)


def describe_errors(error: ValidationError, path: Path, document: Any) -> list[str]:
    """One ``file:line: message`` per pydantic error, in plain words."""
    problems = []
    for item in error.errors(include_url=False):
        location = [step for step in item["loc"] if isinstance(step, int | str)]
        # pydantic appends union/tag names to the location; drop what is not in the file
        shown = ".".join(str(step) for step in location) or "(top level)"
        message = _plain_message(item, location)
        problems.append(f"{path}:{line_of(document, location)}: {shown}: {message}")
    return problems


def _plain_message(item: Any, location: list[int | str]) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        return f"unknown option '{location[-1]}' (check the spelling)"
    if kind == "missing":
        return "required option is missing"
    message = str(item["msg"])
    return message.removeprefix("Value error, ")


def to_plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists (for hashing, JSON)."""
    if isinstance(node, dict):
        return {str(key): to_plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [to_plain(value) for value in node]
    return node
