"""YAML files read with their line numbers, so every problem can say ``file:line``:
the one toolkit of rules, catalogue, rule tests and (through gateway/config/yamlfile.py)
the gateway config."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.timestamp import TimeStamp

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """One parsed file: plain data for validation, the node tree for line numbers."""

    path: Path
    data: Any
    tree: Any

    def line_of(self, loc: Loc) -> int:
        """The line of the deepest key or item of ``loc`` that exists (1-based)."""
        return line_in(self.tree, loc)

    def where(self, loc: Loc = ()) -> str:
        return f"{self.path}:{self.line_of(loc)}"


@dataclass(frozen=True, slots=True)
class Site:
    """A place in a document, to report problems at and to step into."""

    doc: YamlDocument
    problems: Problems
    loc: Loc = ()

    def at(self, *steps: str | int) -> Site:
        return Site(self.doc, self.problems, self.loc + steps)

    def problem(self, message: str) -> None:
        self.problems.add(self.doc.where(self.loc), message)


class Problems:
    """Collects every ``file:line: message`` so an admin sees all of them at once."""

    def __init__(self) -> None:
        self._items: list[tuple[str, int, str]] = []

    def add(self, where: str, message: str) -> None:
        path, _, line = where.rpartition(":")
        self._items.append((path, int(line) if line.isdigit() else 0, message))

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_list())

    def __bool__(self) -> bool:
        return bool(self._items)

    def as_list(self) -> list[str]:
        """In file and line order, whatever order the checks found them in."""
        ordered = sorted(self._items, key=lambda item: (item[0], item[1]))
        return [f"{path}:{line}: {message}" for path, line, message in ordered]


def line_in(tree: Any, loc: Sequence[str | int]) -> int:
    """The 1-based line of the deepest key or item of ``loc`` that exists in a tree
    ruamel's round-trip loader made (it remembers where each came from)."""
    node = tree
    line = 1
    for step in loc:
        if isinstance(node, CommentedMap) and step in node:
            line = node.lc.key(step)[0] + 1
            node = node[step]
        elif isinstance(node, CommentedSeq) and isinstance(step, int) and step < len(node):
            line = node.lc.item(step)[0] + 1
            node = node[step]
        else:
            break
    return line


def read_yaml(path: Path, problems: Problems) -> YamlDocument | None:
    """Parse one file; on a syntax error record it and return None."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(f"{path}:1", f"cannot read the file: {exc}")
        return None
    try:
        tree = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = exc.problem or exc.context or "invalid YAML"
        problems.add(f"{path}:{line}", f"YAML syntax error: {reason}")
        return None
    except YAMLError as exc:
        problems.add(f"{path}:1", f"YAML syntax error: {exc}")
        return None
    return YamlDocument(path=path, data=_plain(tree), tree=tree)


def _plain(node: Any) -> Any:
    """ruamel's commented containers as ordinary dicts and lists, its times as datetimes
    (its own subclass is refused where a datetime is bound to SQL)."""
    if isinstance(node, TimeStamp):
        return datetime.fromisoformat(node.isoformat())
    if isinstance(node, CommentedMap):
        return {key: _plain(value) for key, value in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(item) for item in node]
    return node
