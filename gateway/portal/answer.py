"""What a requester does on the status page: add a comment, or confirm it is solved.

A comment is stored through the portal's durable intake (a record of channel
``portal``, parsed like a mail reply) before the page says it was received;
the pipeline makes it a comment on the incident and a follow-up to the
ticket's sinks. "Solved" resolves the incident as the API's resolve does,
with the requester as author. Both answer with a redirect to the page
(post, redirect, get), so a reload never sends twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from aiohttp import web

from core.errors import DataRejected, StorageUnavailable
from gateway.portal.config import PortalFormConfig
from gateway.portal.intake import PortalIntake
from gateway.portal.limits import PortalLimits
from gateway.portal.links import LinkRefused
from gateway.portal.status import CONFIRMABLE, StatusPages
from gateway.portal.upload import FormRefused, ReadForm, attachments, file_problem, read_form
from storage import ActionRefused, Actions, Operator

log = structlog.get_logger(__name__)

MAX_COMMENT_CHARS = 10_000


class StatusAnswers:
    def __init__(
        self,
        *,
        status: StatusPages,
        intake: PortalIntake,
        actions: Actions,
        limits: PortalLimits,
        clock: Callable[[], datetime],
        files: PortalFormConfig,
    ) -> None:
        self._files = files  # the form's limits on files hold for messages too
        self._status = status
        self._intake = intake
        self._actions = actions
        self._limits = limits
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/portal/status/{token}/comment", self.comment),
            web.post("/portal/status/{token}/solved", self.solved),
        ]

    async def comment(self, request: web.Request) -> web.StreamResponse:
        try:
            claims = self._status.claims(request)
        except LinkRefused as exc:
            return self._status.refused(request, exc.reason)
        if not self._limits.allow(request, f"incident:{claims.incident_id}"):
            self._intake.rejected("rate_limited")
            return await self._status.page(request, claims, 429, error="rate_limited")
        files = self._files
        try:
            form = await read_form(request, files.max_attachments, files.max_attachment_bytes)
        except FormRefused as refused:
            self._intake.rejected(refused.reason)
            if refused.reason == "too_large":
                return await self._status.page(request, claims, 413, error="file_too_large")
            return await self._status.page(request, claims, 400, error="bad_form")
        text = form.values.get("text", "").strip()
        error = _problem(form, text, files)
        if error:
            self._intake.rejected("invalid")
            return await self._status.page(request, claims, 400, error=error, form={"text": text})
        try:
            incident = await self._status.read(claims)
            if incident is None:
                return self._status.refused(request, "gone")
            document = {
                "form": "comment",
                "incident_key": claims.key,
                "requester": incident["requester"],
                "text": text,
                "attachments": attachments(form),
            }
            await self._intake.commit(document, self._limits.client(request))
        except (StorageUnavailable, DataRejected):
            return await self._status.page(
                request, claims, 503, error="unavailable", form={"text": text}
            )
        log.info("portal_comment_stored", incident_key=claims.key)
        return _back(request, "comment")

    async def solved(self, request: web.Request) -> web.StreamResponse:
        try:
            claims = self._status.claims(request)
        except LinkRefused as exc:
            return self._status.refused(request, exc.reason)
        if not self._limits.allow(request, f"incident:{claims.incident_id}"):
            return await self._status.page(request, claims, 429, error="rate_limited")
        try:
            incident = await self._status.read(claims)
        except StorageUnavailable:
            return await self._status.page(request, claims, 503, error="unavailable")
        if incident is None:
            return self._status.refused(request, "gone")
        if incident["status"] in CONFIRMABLE:
            author = f"requester:{incident['requester'] or claims.key}"
            try:
                await self._actions.resolve(
                    claims.incident_id,
                    author,
                    "confirmed solved by the requester",
                    self._clock(),
                    Operator(author, f"portal@{self._limits.client(request)}"),
                )
            except ActionRefused:
                return await self._status.page(request, claims, 409, error="not_open")
            except StorageUnavailable:
                return await self._status.page(request, claims, 503, error="unavailable")
            log.info("portal_confirmed_solved", incident_key=claims.key)
        return _back(request, "solved")


def _problem(form: ReadForm, text: str, files: PortalFormConfig) -> str:
    """What is wrong with a message and its files ("" for nothing)."""
    if not text:
        return "empty"
    if len(text) > MAX_COMMENT_CHARS:
        return "too_long"
    if len(form.uploads) + len(form.refused) > files.max_attachments:
        return "too_many_files"
    if form.refused:
        return "file_too_large"
    if any(file_problem(upload, files.attachment_types) for upload in form.uploads):
        return "file_refused"
    return ""


def _back(request: web.Request, what: str) -> web.Response:
    token = request.match_info["token"]
    return web.Response(status=303, headers={"Location": f"/portal/status/{token}?sent={what}"})
