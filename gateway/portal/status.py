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

from core.errors import StorageUnavailable
from gateway.portal.links import LinkClaims, LinkRefused, LinkSigner
from gateway.portal.pages import PortalPages

log = structlog.get_logger(__name__)

# the statuses a requester can confirm solved: waiting on them included, since an
# answer to "does it work now?" is often just that
CONFIRMABLE = ("new", "acknowledged", "pending")
NOTICES = {
    "comment": "Your message was received; it is added to the request.",
    "solved": "Thank you: the request is marked solved.",
    "rated": "Thank you for your rating.",
}
ERRORS = {
    "empty": "Please write a message first.",
    "too_long": "The message is too long (at most 10,000 characters).",
    "unavailable": "It could not be saved just now; nothing was recorded. Please try again.",
    "rate_limited": "Too many messages in a short time; please wait a minute.",
    "not_open": "The request is no longer open.",
    "not_resolved": "A rating can be given once the request is resolved.",
    "bad_form": "The form could not be read; please send it again.",
    "too_many_files": "Too many files.",
    "file_too_large": "The file is too large.",
    "file_refused": "Files of this type are not accepted, or the content does not match the type.",
}
REASONS = {
    "tampered": "The link is not valid: it may have been cut or changed on the way.",
    "expired": "The link has expired.",
    "gone": "This request is no longer kept.",
}
StatusReader = Callable[[int, str], Awaitable[dict[str, Any] | None]]


class StatusPages:
    def __init__(self, *, signer: LinkSigner, pages: PortalPages, read: StatusReader) -> None:
        self._signer = signer
        self._pages = pages
        self._read = read

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/portal/status/{token}", self.show)]

    def claims(self, request: web.Request) -> LinkClaims:
        """The incident the request's link names; raises LinkRefused."""
        return self._signer.verify(request.match_info["token"])

    def refused(self, request: web.Request, reason: str) -> web.Response:
        log.info("portal_link_refused", reason=reason)
        return self._pages.render(request, "forbidden.html", 403, reason=reason, reasons=REASONS)

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
            # the incident cannot be read either: a page of its own, the text kept
            kept = str(extra.get("form", {}).get("text", ""))
            response = self._pages.render(
                request, "unavailable.html", 503, message=ERRORS["unavailable"], kept=kept
            )
            response.headers["Retry-After"] = "5"
            return response
        if incident is None:
            return self.refused(request, "gone")
        sent = request.query.get("sent", "")
        context = {"notice": sent if sent in NOTICES else "", "error": "", "form": {}, **extra}
        return self._pages.render(
            request,
            "status.html",
            status,
            incident=incident,
            confirmable=incident["status"] in CONFIRMABLE,
            token=request.match_info["token"],
            notices=NOTICES,
            errors=ERRORS,
            **context,
        )
