"""Pydantic validation of a YAML document, with errors an admin can act on."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from core.yamldoc import Loc, Problems, YamlDocument

Model = TypeVar("Model", bound=BaseModel)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Strict(BaseModel):
    """Base of every config model: immutable, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def parse_duration(value: Any) -> Any:
    """``90s``, ``15m``, ``4h``, ``7d``, ``2w`` or a combination like ``1h30m``."""
    if isinstance(value, timedelta) or not isinstance(value, str):
        return value
    text = value.strip().lower()
    total = 0
    number = ""
    for char in text:
        if char.isdigit():
            number += char
        elif char in _UNITS and number:
            total += int(number) * _UNITS[char]
            number = ""
        else:
            raise ValueError(f'"{value}" is not a duration; write e.g. 90s, 15m, 4h, 7d or 1h30m')
    if number or not text:
        raise ValueError(f'"{value}" is not a duration; write e.g. 90s, 15m, 4h, 7d or 1h30m')
    return timedelta(seconds=total)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


_TYPE_WORDS = {"str": "a text", "int": "a whole number", "list[str]": "a list of texts"}


def validate(model: type[Model], doc: YamlDocument, problems: Problems) -> Model | None:
    data = {} if doc.data is None else doc.data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # A value that fits no branch of a union gets one error per branch, each
        # with the branch's type in its loc; report them as one sentence.
        union_tags: dict[Loc, list[str]] = {}
        for error in exc.errors():
            loc, tag = _split_type_tag(tuple(error["loc"]))
            if tag:
                union_tags.setdefault(loc, []).append(_TYPE_WORDS.get(tag, tag))
                continue
            problems.add(doc.where(loc), describe(error["type"], loc, error["msg"], data))
        for loc, tags in union_tags.items():
            message = f"should be {' or '.join(dict.fromkeys(tags))}"
            problems.add(doc.where(loc), describe("union", loc, message, data))
        return None


def _split_type_tag(loc: Loc) -> tuple[Loc, str]:
    last = loc[-1] if loc else None
    if isinstance(last, str) and (last in _TYPE_WORDS or "[" in last):
        return loc[:-1], last
    return loc, ""


def describe(kind: str, loc: Loc, message: str, data: Any) -> str:
    """A pydantic error as a sentence that names the setting and the rule."""
    where = _context(loc, data)
    name = _setting(loc)
    if kind == "extra_forbidden":
        return f'{where}unknown setting "{loc[-1]}"; check the spelling'
    if kind == "missing":
        return f'{where}"{loc[-1]}" is required'
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    return f"{where}{name}: {message}" if name else f"{where}{message}"


def _setting(loc: Loc) -> str:
    """The dotted setting name after the last list index: ``set.impact``."""
    tail: list[str] = []
    for step in reversed(loc):
        if isinstance(step, int):
            break
        tail.append(str(step))
    return ".".join(reversed(tail))


def _context(loc: Loc, data: Any) -> str:
    """``rule "db-down": `` when the error is inside a named list entry."""
    node = data
    label = ""
    for step in loc:
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
            if isinstance(node, dict):
                ident = node.get("name") or node.get("id")
                if isinstance(ident, str):
                    label = f'{str(loc[0]).rstrip("s")} "{ident}": '
        else:
            break
    return label
