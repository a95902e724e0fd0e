"""Every option is documented, and docs/configuration.md matches the models."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from core.secretref import SecretRef
from gateway.config.doc import _nested_models, render
from gateway.config.model import GatewayConfig

REPO = Path(__file__).resolve().parents[2]


def _models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    pending: list[type[BaseModel]] = [GatewayConfig]
    while pending:
        model = pending.pop()
        if model in found or model is SecretRef:
            continue
        found.append(model)
        for field in model.model_fields.values():
            pending.extend(_nested_models(field.annotation))
    return found


def test_every_option_has_a_description() -> None:
    missing = [
        f"{model.__name__}.{name}"
        for model in _models()
        for name, field in model.model_fields.items()
        if not field.description and not _nested_models(field.annotation)
    ]
    assert missing == []


def test_every_section_explains_itself() -> None:
    undocumented = [
        model.__name__
        for model in _models()
        if not (model.__doc__ or "").strip() and model is not GatewayConfig
    ]
    assert undocumented == []


def test_reference_page_is_current() -> None:
    page = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert page == render(), "run: python -m gateway.config.doc > docs/configuration.md"
