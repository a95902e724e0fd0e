"""Jinja2 for pages: autoescape always on (a mail subject with markup shows as text),
undefined names are errors, the shared base layout beside each application's own
templates, and one response shape (no caching of pages, security headers)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from gateway.web.i18n import HTML_LANG, Translator
from gateway.web.zones import local_time, zone_name

SHARED_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who looks at a page and how they read it."""

    translate: Translator
    zone: tzinfo
    user: str | None = None
    role: str | None = None
    csrf: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def lang(self) -> str:
        return self.translate.lang


def page_environment(directories: Iterable[Path]) -> Environment:
    loader = ChoiceLoader(
        [FileSystemLoader(str(path)) for path in (*directories, SHARED_TEMPLATES)]
    )
    # autoescape for every template, whatever its name: all of them are HTML
    return Environment(loader=loader, autoescape=True, undefined=StrictUndefined, trim_blocks=True)


class Pages:
    """Renders a template for one viewer into a response."""

    def __init__(self, environment: Environment, globals_: Mapping[str, Any]) -> None:
        self._env = environment
        self._globals = dict(globals_)

    def render(self, name: str, viewer: Viewer, **values: Any) -> str:
        template = self._env.get_template(name)
        return template.render(
            **self._globals,
            **values,
            viewer=viewer,
            _=viewer.translate,
            html_lang=HTML_LANG.get(viewer.lang, "en"),
            zone_name=zone_name(viewer.zone),
            when=lambda value, seconds=False: local_time(value, viewer.zone, seconds),
        )

    def response(
        self, name: str, viewer: Viewer, *, status: int = 200, **values: Any
    ) -> web.Response:
        response = web.Response(
            text=self.render(name, viewer, **values),
            status=status,
            content_type="text/html",
            charset="utf-8",
        )
        response.headers["Cache-Control"] = "no-store"
        return response


# Pages load scripts and styles from the daemon only: an injected <script> or
# inline handler does not run even if markup slipped through escaping.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def secure_headers(response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")


SHARED_STATIC = Path(__file__).parent / "static"


def static_routes(prefix: str, directory: Path) -> list[web.AbstractRouteDef]:
    """Files under ``directory`` at ``prefix`` (e.g. /ui/static/web); no listing."""
    return [web.static(prefix, directory, show_index=False, follow_symlinks=False)]
