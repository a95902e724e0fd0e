"""``GET /portal/status/{token}``: one incident's public face, for its requester.

No login: the signed link is the credential. A link that was changed or cut
on the way, or that is older than ``link_days``, gets 403 and a page saying
which, in the requester's language.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from gateway.errors import StorageUnavailable
from gateway.portal.config import Language
from gateway.portal.i18n import choose
from gateway.portal.links import LinkClaims, LinkRefused, LinkSigner
from gateway.portal.pages import Pages

log = structlog.get_logger(__name__)

_NOTICES = ("comment", "solved")
StatusReader = Callable[[int, str], Awaitable[dict[str, Any] | None]]


def language_of(request: web.Request, default: Language) -> Language:
    return choose(request.query.get("lang"), request.headers.get("Accept-Language", ""), default)


class StatusPages:
    def __init__(
        self, *, signer: LinkSigner, pages: Pages, read: StatusReader, default_language: Language
    ) -> None:
        self._signer = signer
        self._pages = pages
        self._read = read
        self._default = default_language

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/portal/status/{token}", self.show)]

    def claims(self, request: web.Request) -> LinkClaims:
        """The incident the request's link names; raises LinkRefused."""
        return self._signer.verify(request.match_info["token"])

    def refused(self, request: web.Request, reason: str) -> web.Response:
        log.info("portal_link_refused", reason=reason)
        language = language_of(request, self._default)
        return self._pages.render("forbidden.html", language, 403, reason=reason)

    async def show(self, request: web.Request) -> web.Response:
        try:
            claims = self.claims(request)
        except LinkRefused as exc:
            return self.refused(request, exc.reason)
        return await self.page(request, claims)

    async def read(self, claims: LinkClaims) -> dict[str, Any] | None:
        """The incident as the page shows it; raises StorageUnavailable."""
        return await self._read(claims.incident_id, claims.key)

    async def page(
        self, request: web.Request, claims: LinkClaims, status: int = 200, **extra: Any
    ) -> web.Response:
        """The status page of the incident ``claims`` names, with ``extra`` for the form."""
        try:
            incident = await self._read(claims.incident_id, claims.key)
        except StorageUnavailable:
            return web.Response(
                status=503, text="unavailable; retry later", headers={"Retry-After": "5"}
            )
        if incident is None:
            return self.refused(request, "gone")
        language = language_of(request, self._default)
        sent = request.query.get("sent", "")
        context = {"notice": sent if sent in _NOTICES else "", "error": "", "form": {}, **extra}
        return self._pages.render(
            "status.html",
            language,
            status,
            incident=incident,
            token=request.match_info["token"],
            **context,
        )
