"""The README and the hand-written docs name options that exist, with their real defaults.

docs/configuration.md is generated from the models (test_config_docs.py);
this test reads the pages people write by hand: every backquoted option path
(``http.max_body_bytes``, ``retry.cap_seconds``) must be an option of the
config models, every default written next to it (``(default 1 MiB)``) and
every row of an option table (``### Options (`smtp:`)``) must match the
model's default, and the lists of integration and sink kinds must be complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from gateway.config.doc import _nested_models
from gateway.config.model import GatewayConfig
from parsers.registry import PARSERS
from sinks.registry import SINKS

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
HAND_WRITTEN = [page for page in PAGES if page.name not in ("configuration.md", "benchmarks.md")]

_PATH = re.compile(r"`([a-z_]+(?:\[\])?(?:\.[a-z_]+(?:\[\])?)+)`")
_DEFAULT_AFTER = re.compile(
    r"`([a-z_]+(?:\[\])?(?:\.[a-z_]+(?:\[\])?)*)`[^`.;\n]{0,40}?\(default ([^)]+)\)"
)
_TABLE_HEADING = re.compile(r"^#+ Options \(`([a-z_.\[\]]+?):?`\)")
_UNITS = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "s": 1, "days": 1}


def _models() -> Iterator[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    pending: list[type[BaseModel]] = [GatewayConfig]
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        yield model
        for field in model.model_fields.values():
            pending.extend(_nested_models(field.annotation))


def _fields(path: str, start: type[BaseModel] = GatewayConfig) -> list[FieldInfo]:
    """The fields ``path`` names from ``start`` (several where kinds of sinks differ)."""
    models, found = [start], []
    for step in path.replace("[]", "").split("."):
        found = [model.model_fields[step] for model in models if step in model.model_fields]
        models = [child for field in found for child in _nested_models(field.annotation)]
    return found


def _anywhere(path: str) -> tuple[bool, list[FieldInfo]]:
    """From the top, or from every section whose option its first name is
    (``retry.cap_seconds``, ``comment_interval_seconds``); and whether it looks like one."""
    first = path.replace("[]", "").split(".")[0]
    if first in GatewayConfig.model_fields:
        return True, _fields(path)
    owners = [model for model in _models() if first in model.model_fields]
    return bool(owners), [field for model in owners for field in _fields(path, model)]


def _resolves(path: str) -> bool:
    looks_like_option, fields = _anywhere(path)
    return not looks_like_option or bool(fields)


def test_every_option_path_on_a_page_is_an_option() -> None:
    unknown = [
        f"{page.name}: {match}"
        for page in HAND_WRITTEN
        for match in _PATH.findall(page.read_text(encoding="utf-8"))
        if not _resolves(match)
    ]
    assert unknown == []


def _model_default(field: FieldInfo) -> Any:
    if field.is_required():
        return PydanticUndefined
    if field.default is PydanticUndefined and field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return field.default


def _same(written: str, default: Any) -> bool | None:
    """Whether a default as written means the model's; None when it is words, not a value."""
    if not written.strip():  # an empty cell: no default, the option is required
        return default is PydanticUndefined or default is None
    text = written.strip().strip("`").strip()
    if isinstance(default, bool):
        return text == str(default).lower() if text in ("true", "false") else None
    if isinstance(default, int | float):
        number = re.fullmatch(r"([\d.]+)\s*([A-Za-z]*)", text)
        if number is None or (number[2] and number[2] not in _UNITS):
            return None
        return float(number[1]) * _UNITS.get(number[2], 1) == float(default)
    if isinstance(default, list | tuple):
        if not (text.startswith("[") and text.endswith("]")):
            return None
        return [item.strip() for item in text[1:-1].split(",")] == [str(v) for v in default]
    if default is None or not written.strip().startswith("`"):
        return None  # words such as "this host's name"
    return text == str(default)


def _written_defaults() -> Iterator[tuple[str, str, str]]:
    """(page, option path, default as written) from sentences and option tables."""
    for page in HAND_WRITTEN:
        text = page.read_text(encoding="utf-8")
        for path, written in _DEFAULT_AFTER.findall(text):
            yield page.name, path, written
        section = ""
        for line in text.splitlines():
            heading = _TABLE_HEADING.match(line)
            if heading:
                section = heading[1]
            elif line.startswith("#"):
                section = ""
            elif section and line.startswith("| `"):
                cells = [cell.strip() for cell in line.strip("|").split("|")]
                for name in re.findall(r"`([a-z_.]+)`", cells[0]):
                    yield page.name, f"{section}.{name}", cells[1]


def test_defaults_written_on_the_pages_are_the_models_defaults() -> None:
    wrong, compared = [], 0
    for page, path, written in _written_defaults():
        for field in _anywhere(path)[1]:
            same = _same(written, _model_default(field))
            compared += same is not None
            if same is False:
                wrong.append(f"{page}: {path} says {written!r}, the model {field.default!r}")
    assert wrong == []
    assert compared >= 15  # the pages do state defaults: this test reads them


def test_the_smtp_options_table_lists_real_options() -> None:
    rows = [path for page, path, _ in _written_defaults() if page == "mail.md"]
    assert "smtp.max_message_bytes" in rows and "imap.accounts[].idle" in rows
    assert [path for path in rows if not _fields(path)] == []


@pytest.mark.parametrize("page", ["README.md", "configuration.md"])
def test_every_integration_kind_is_listed(page: str) -> None:
    text = (REPO / "README.md").read_text() if page == "README.md" else _kind_description()
    missing = [kind for kind in PARSERS if kind != "email" and f"{kind}" not in text]
    assert missing == []


def _kind_description() -> str:
    return IntegrationKind.description or ""


def test_every_sink_kind_is_listed_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    listed = re.search(r"`sinks`: where incidents go \(([^)]+)\)", readme)
    assert listed is not None
    assert sorted(re.findall(r"`([a-z]+)`", listed[1])) == sorted(SINKS)


IntegrationKind = _fields("integrations[].kind")[0]
