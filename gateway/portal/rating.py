"""The satisfaction rating: one click on a score in the survey mail, stored once.

The mail's links are GETs, which mail scanners fetch on their own; a GET
therefore stores nothing: its page posts the score by itself in a browser
(a script of the daemon's own; a button where scripts are off), and the
POST stores it. The first score stored stays; every later click, a double
click included, is answered the same and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from aiohttp import web

from core.errors import StorageUnavailable
from gateway.portal.limits import PortalLimits
from gateway.portal.links import LinkClaims, LinkRefused
from gateway.portal.pages import PortalPages
from gateway.portal.status import StatusPages
from storage import Ratings

log = structlog.get_logger(__name__)

_RATED = ("resolved", "closed")


class RatingPages:
    def __init__(
        self,
        *,
        status: StatusPages,
        pages: PortalPages,
        ratings: Ratings,
        limits: PortalLimits,
        clock: Callable[[], datetime],
    ) -> None:
        self._status = status
        self._pages = pages
        self._ratings = ratings
        self._limits = limits
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        path = "/portal/status/{token}/rate/{score:[1-5]}"
        return [web.get(path, self.confirm), web.post(path, self.rate)]

    def _claims(self, request: web.Request) -> LinkClaims | web.Response:
        try:
            return self._status.claims(request)
        except LinkRefused as exc:
            return self._status.refused(request, exc.reason)

    async def confirm(self, request: web.Request) -> web.Response:
        claims = self._claims(request)
        if isinstance(claims, web.Response):
            return claims
        try:
            incident = await self._status.read(claims)
        except StorageUnavailable:
            return await self._status.page(request, claims, 503, error="unavailable")
        if incident is None:
            return self._status.refused(request, "gone")
        if incident["rating"] is not None:  # rated already: the page says how
            return _to_page(request)
        return self._pages.render(
            request,
            "rate.html",
            score=int(request.match_info["score"]),
            token=request.match_info["token"],
        )

    async def rate(self, request: web.Request) -> web.Response:
        claims = self._claims(request)
        if isinstance(claims, web.Response):
            return claims
        if not self._limits.allow(request, f"incident:{claims.incident_id}"):
            return await self._status.page(request, claims, 429, error="rate_limited")
        try:
            incident = await self._status.read(claims)
            if incident is None:
                return self._status.refused(request, "gone")
            if incident["status"] not in _RATED:
                return await self._status.page(request, claims, 409, error="not_resolved")
            score = int(request.match_info["score"])
            stored = await self._ratings.rate(claims.incident_id, claims.key, score, self._clock())
        except StorageUnavailable:
            return await self._status.page(request, claims, 503, error="unavailable")
        if stored:
            log.info("portal_rated", incident_key=claims.key, rating=score)
        return _to_page(request, "?sent=rated")


def _to_page(request: web.Request, query: str = "") -> web.Response:
    location = f"/portal/status/{request.match_info['token']}{query}"
    return web.Response(status=303, headers={"Location": location})
