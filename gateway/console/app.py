"""The operator console under /ui/: pages rendered on the server (Jinja2, htmx),
served by the daemon itself on the HTTP listener.

``Console`` gathers what every page needs (templates, catalogs, the viewer's
language and time zone, access) and the routes of the page modules.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from gateway.console.access import (
    CSRF,
    LOGIN_COOKIE,
    PERSON,
    PREFIX,
    SESSION_COOKIE,
    Access,
    safe_next,
)
from gateway.web.i18n import LANG_COOKIE, Catalogs, language_of
from gateway.web.templating import (
    SHARED_STATIC,
    Pages,
    Viewer,
    page_environment,
    secure_headers,
    static_routes,
)
from gateway.web.zones import TZ_COOKIE, viewer_zone

log = structlog.get_logger("gateway.console")

HERE = Path(__file__).parent
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Console:
    def __init__(self, access: Access) -> None:
        self.access = access
        self.catalogs = Catalogs.load([HERE / "locale"])
        self.pages = Pages(
            page_environment([HERE / "templates"]),
            {
                "app_title": "intake-gateway",
                "home": f"{PREFIX}/incidents",
                "web_static": f"{PREFIX}/static/web",
                "static": f"{PREFIX}/static/console",
                "lang_switch": f"{PREFIX}/lang",
                "prefix": PREFIX,
            },
        )

    def client(self, request: web.Request) -> str:
        return self.access.client(request)

    def viewer(self, request: web.Request) -> Viewer:
        lang = language_of(request.cookies.get(LANG_COOKIE), request.headers.get("Accept-Language"))
        person = request.get(PERSON)
        return Viewer(
            translate=self.catalogs.translator(lang),
            zone=viewer_zone(request.cookies.get(TZ_COOKIE)),
            user=person.name if person else None,
            role=person.role if person else None,
            csrf=request.get(CSRF, ""),
        )

    def page(
        self, request: web.Request, name: str, *, status: int = 200, **values: Any
    ) -> web.Response:
        return self.pages.response(name, self.viewer(request), status=status, **values)

    @web.middleware
    async def errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Console answers are pages, errors too, with the pages' security headers."""
        if not (request.path == PREFIX or request.path.startswith(f"{PREFIX}/")):
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400 or request.headers.get("HX-Request"):
                secure_headers(exc)
                raise
            response = self.page(
                request,
                "error.html",
                status=exc.status,
                status_code=exc.status,
                message=exc.text or exc.reason,
            )
        if not response.prepared:  # a stream (server-sent events) sent its headers already
            secure_headers(response)
        return response

    def routes(self, *more: Sequence[web.AbstractRouteDef]) -> list[web.AbstractRouteDef]:
        found: list[web.AbstractRouteDef] = [
            web.get(PREFIX, self.home),
            web.get(f"{PREFIX}/", self.home),
            web.get(f"{PREFIX}/login", self.login_form),
            web.post(f"{PREFIX}/login", self.login),
            web.post(f"{PREFIX}/logout", self.logout),
            web.get(f"{PREFIX}/lang", self.language),
            *static_routes(f"{PREFIX}/static/web", SHARED_STATIC),
            *static_routes(f"{PREFIX}/static/console", HERE / "static"),
        ]
        for group in more:
            found.extend(group)
        return found

    async def home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther(f"{PREFIX}/incidents")

    async def login_form(
        self, request: web.Request, *, problem: str = "", status: int = 200
    ) -> web.Response:
        nonce = self.access.login_nonce(request) or secrets.token_urlsafe(16)
        response = self.page(
            request,
            "login.html",
            status=status,
            token=self.access.codec().login_token(nonce),
            next=safe_next(request.query.get("next")),
            problem=problem,
        )
        self.access.set_cookie(request, response, LOGIN_COOKIE, nonce)
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        name, password = str(form.get("name", ""))[:64], str(form.get("password", ""))[:1024]
        token = form.get("csrf")
        outcome, wait = await self.access.log_in(
            request, name, password, token if isinstance(token, str) else None
        )
        translate = self.viewer(request).translate
        if outcome == "csrf":
            raise web.HTTPForbidden(
                text=translate("The login form expired: reload it and try again.")
            )
        if outcome == "limited":
            response = await self.login_form(
                request,
                problem=translate(
                    "Too many failed logins: try again in {n} seconds.", n=int(wait) + 1
                ),
                status=429,
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        if outcome == "wrong":
            return await self.login_form(
                request, problem=translate("Wrong name or password."), status=401
            )
        person = self.access.person(name)
        assert person is not None
        response = _see_other(safe_next(str(form.get("next", ""))))
        self.access.set_cookie(
            request, response, SESSION_COOKIE, self.access.new_session_cookie(person)
        )
        response.del_cookie(LOGIN_COOKIE, path=f"{PREFIX}/")
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        log.info("console_logout", user=request[PERSON].name)
        response = _see_other(f"{PREFIX}/login")
        response.del_cookie(SESSION_COOKIE, path=f"{PREFIX}/")
        return response

    async def language(self, request: web.Request) -> web.StreamResponse:
        lang = request.query.get("lang", "")
        target = request.headers.get("Referer", "")
        path = target.split("://", 1)[-1].partition("/")[2]
        response = _see_other(safe_next(f"/{path}" if path else None))
        if lang in self.catalogs.by_language:
            response.set_cookie(LANG_COOKIE, lang, path="/", max_age=365 * 86400, samesite="Lax")
        return response


def _see_other(location: str) -> web.Response:
    """A 303 that can carry cookies (a raised HTTPException is not returned)."""
    return web.Response(status=303, headers={"Location": location})
