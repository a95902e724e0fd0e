"""The portal's pages on the shared web foundation (gateway/web): autoescaped Jinja2
(whatever a requester or a mail wrote shows as text), the shared layout, English
and Chinese catalogs. The language is ``?lang=`` (kept in the ``lang`` cookie), else
the cookie, else the browser's Accept-Language, else ``portal.language``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.web.i18n import LANG_COOKIE, LANGUAGES, Catalogs, language_of
from gateway.web.templating import (
    SHARED_STATIC,
    Pages,
    Viewer,
    page_environment,
    secure_headers,
    static_routes,
)
from gateway.web.zones import TZ_COOKIE, viewer_zone

HERE = Path(__file__).resolve().parent
PREFIX = "/portal"

# what the page shows for the stored values: message ids of the catalogs
WORDS: Mapping[str, str] = {
    "status.new": "New",
    "status.acknowledged": "In progress",
    "status.pending": "Waiting for your answer",
    "status.resolved": "Resolved",
    "status.closed": "Closed",
    "priority.P1": "P1 critical",
    "priority.P2": "P2 high",
    "priority.P3": "P3 medium",
    "priority.P4": "P4 low",
    "type.incident": "Incident",
    "type.service_request": "Service request",
    "type.complaint": "Complaint",
    "type.change_request": "Change request",
    "kind.opened": "Recorded",
    "kind.acknowledged": "Taken in hand",
    "kind.pending": "Waiting for your answer",
    "kind.resumed": "Your answer arrived; work goes on",
    "kind.resolved": "Resolved",
    "kind.reopened": "Reopened",
    "kind.closed": "Closed",
    "kind.merged": "Merged into another request",
    "kind.priority_raised": "Priority raised",
    "kind.comment": "Message",
    "kind.rated": "Rated",
}


class PortalPages:
    def __init__(self, default_language: str) -> None:
        self._default = default_language
        self._catalogs = Catalogs.load([HERE / "locale"])
        environment = page_environment([HERE / "templates"])
        # one set of pages per language: the layout's title is a global of its own
        self._pages = {
            language: Pages(
                environment,
                {
                    "app_title": self._catalogs.translator(language)("Service desk"),
                    "home": f"{PREFIX}/",
                    "web_static": f"{PREFIX}/static/web",
                    "words": WORDS,
                },
            )
            for language in LANGUAGES
        }

    def language(self, request: web.Request) -> str:
        asked = request.query.get("lang")
        if asked in LANGUAGES:
            return asked
        if LANG_COOKIE in request.cookies or request.headers.get("Accept-Language"):
            return language_of(
                request.cookies.get(LANG_COOKIE), request.headers.get("Accept-Language")
            )
        return self._default

    def render(
        self,
        request: web.Request,
        name: str,
        status: int = 200,
        policy: str | None = None,
        **values: Any,
    ) -> web.Response:
        """``policy``: a Content-Security-Policy of its own (the form's with a CAPTCHA)."""
        language = self.language(request)
        viewer = Viewer(
            self._catalogs.translator(language), viewer_zone(request.cookies.get(TZ_COOKIE))
        )
        response = self._pages[language].response(
            name, viewer, status=status, lang_switch=request.path, **values
        )
        if policy is not None:
            response.headers["Content-Security-Policy"] = policy
        secure_headers(response)
        if request.query.get("lang") in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE, language, max_age=365 * 86400, samesite="Lax", path="/"
            )
        return response


def static_files() -> list[web.AbstractRouteDef]:
    return [
        *static_routes(f"{PREFIX}/static/web", SHARED_STATIC),
        *static_routes(f"{PREFIX}/static/portal", HERE / "static"),
    ]
