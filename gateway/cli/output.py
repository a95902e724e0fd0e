"""What the operator commands print: an aligned table, or the API's JSON as it came."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson

Column = tuple[str, Callable[[Mapping[str, Any]], object]]


def as_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def width(text: str) -> int:
    """Columns on a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value) or "-"
    text = " ".join(str(value).split())  # one line per row
    return text or "-"


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """Left-aligned columns two spaces apart, a header line first."""
    lines = [[name for name, _ in columns]]
    lines += [[cell(read(row)) for _, read in columns] for row in rows]
    widths = [max(width(line[index]) for line in lines) for index in range(len(columns))]
    return "\n".join(
        "  ".join(
            text + " " * (widths[index] - width(text)) for index, text in enumerate(line)
        ).rstrip()
        for line in lines
    )


def fields(pairs: Sequence[tuple[str, object]]) -> str:
    """``name: value`` lines, the values aligned."""
    longest = max((len(name) for name, _ in pairs), default=0)
    return "\n".join(f"{name + ':':<{longest + 1}} {cell(value)}" for name, value in pairs)


def moment(name: str) -> Callable[[Mapping[str, Any]], object]:
    """A time of the API to the second: 2026-12-24T18:00:00Z."""

    def read(row: Mapping[str, Any]) -> object:
        value = row.get(name)
        if isinstance(value, str) and len(value) > 20 and value[19] == ".":
            return value[:19] + "Z"
        return value

    return read


def key(name: str) -> Callable[[Mapping[str, Any]], object]:
    return lambda row: row.get(name)
