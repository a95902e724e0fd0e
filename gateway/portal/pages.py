"""HTML from the portal's templates: autoescaped, so whatever a requester or a mail
wrote is shown as text, never run as markup or script."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from gateway.portal.config import Language
from gateway.portal.i18n import LANGUAGES, translator

_TEMPLATES = Path(__file__).resolve().parent / "templates"

# No script, style or frame from anywhere but this daemon; forms post only here.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class Pages:
    def __init__(self) -> None:
        self._env = Environment(
            loader=FileSystemLoader(_TEMPLATES),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["when"] = _when

    def render(
        self, name: str, language: Language, status: int = 200, **context: Any
    ) -> web.Response:
        words = translator(language)
        other = next(item for item in LANGUAGES if item != language)
        html = self._env.get_template(name).render(
            t=words, lang=language, other_lang=other, **context
        )
        return web.Response(
            text=html,
            status=status,
            content_type="text/html",
            charset="utf-8",
            headers=SECURITY_HEADERS,
        )
