"""What operators do from an incident's page: acknowledge, wait on the requester
(and back to work), resolve, comment, reassign, change impact and urgency, link,
merge a duplicate into its survivor. Each goes through the same store functions as
the JSON API (timeline entry, audit entry and outbox follow-ups in one transaction)
and is logged with the person who did it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web

from gateway.console.access import PERSON, PREFIX, require
from gateway.console.app import Console
from rules.priority import PriorityMatrix
from storage import (
    ActionRefused,
    Actions,
    IncidentEdits,
    MergeRefused,
    Operator,
    get_incident,
)

log = structlog.get_logger("gateway.console")

_MAX_TEXT = 10_000
_MAX_GROUP = 128
_LEVELS = ("1", "2", "3", "4")


def _text(form: Any, name: str, limit: int = _MAX_TEXT) -> str:
    value = form.get(name, "")
    text = value if isinstance(value, str) else ""
    if len(text) > limit or "\x00" in text:
        raise web.HTTPBadRequest(text=f"{name}: at most {limit} characters, no NUL")
    return text.strip()


class ActionPages:
    def __init__(
        self,
        console: Console,
        actions: Actions,
        edits: IncidentEdits,
        matrix: Callable[[], PriorityMatrix],
    ) -> None:
        self._console = console
        self._actions = actions
        self._edits = edits
        self._matrix = matrix

    def routes(self) -> list[web.RouteDef]:
        base = f"{PREFIX}/incidents/{{ident}}"
        return [
            web.post(f"{base}/acknowledge", self.acknowledge),
            web.post(f"{base}/resolve", self.resolve),
            web.post(f"{base}/pending", self.pending),
            web.post(f"{base}/comment", self.comment),
            web.post(f"{base}/reassign", self.reassign),
            web.post(f"{base}/priority", self.priority),
            web.post(f"{base}/major", self.major),
            web.post(f"{base}/link", self.link),
            web.post(f"{base}/merge", self.merge),
        ]

    async def acknowledge(self, request: web.Request) -> web.StreamResponse:
        return await self._status(request, self._actions.acknowledge, "acknowledged")

    async def resolve(self, request: web.Request) -> web.StreamResponse:
        return await self._status(request, self._actions.resolve, "resolved")

    async def pending(self, request: web.Request) -> web.StreamResponse:
        """Waiting on the requester; acknowledge takes it back to work."""
        return await self._status(request, self._actions.pending, "pending")

    async def _status(
        self,
        request: web.Request,
        action: Callable[
            [int | str, str, str, datetime, Operator | None], Awaitable[dict[str, Any] | None]
        ],
        done: str,
    ) -> web.StreamResponse:
        person = require(request, "operator")
        form = await request.post()
        ident = request.match_info["ident"]
        try:
            found = await action(
                ident, person.name, _text(form, "comment"), _now(), self._by(request)
            )
        except ActionRefused as exc:
            raise web.HTTPConflict(text=str(exc)) from None
        return self._done(request, found, f"incident_{done}", person.name)

    async def comment(self, request: web.Request) -> web.StreamResponse:
        person = require(request, "operator")
        text = _text(await request.post(), "comment")
        if not text:
            raise web.HTTPBadRequest(text="a comment needs text")
        found = await self._edits.comment(
            request.match_info["ident"], self._by(request), text, _now()
        )
        return self._done(request, found, "incident_commented", person.name)

    async def reassign(self, request: web.Request) -> web.StreamResponse:
        person = require(request, "operator")
        form = await request.post()
        group = _text(form, "assignment_group", _MAX_GROUP)
        found = await self._edits.reassign(
            request.match_info["ident"], self._by(request), group, _text(form, "comment"), _now()
        )
        return self._done(request, found, "incident_reassigned", person.name)

    async def priority(self, request: web.Request) -> web.StreamResponse:
        person = require(request, "operator")
        form = await request.post()
        impact, urgency = _text(form, "impact", 1), _text(form, "urgency", 1)
        if impact not in _LEVELS or urgency not in _LEVELS:
            raise web.HTTPBadRequest(text="impact and urgency are 1 to 4")
        priority = self._matrix().priority(int(impact), int(urgency))
        found = await self._edits.reprioritise(
            request.match_info["ident"],
            self._by(request),
            int(impact),
            int(urgency),
            priority.value,
            _text(form, "comment"),
            _now(),
        )
        return self._done(request, found, "incident_reprioritised", person.name)

    async def major(self, request: web.Request) -> web.StreamResponse:
        person = require(request, "operator")
        form = await request.post()
        found = await self._edits.mark_major(
            request.match_info["ident"],
            self._by(request),
            form.get("major") == "true",
            _text(form, "comment"),
            _now(),
        )
        return self._done(request, found, "incident_major_changed", person.name)

    async def link(self, request: web.Request) -> web.StreamResponse:
        person = require(request, "operator")
        form = await request.post()
        other = _text(form, "other", 32)
        target = await get_incident(other) if other and "\x00" not in other else None
        if target is None:
            raise web.HTTPBadRequest(text="link to an incident that exists (its key or id)")
        found = await self._edits.link(
            request.match_info["ident"],
            self._by(request),
            int(target["id"]),
            _text(form, "comment"),
            _now(),
        )
        return self._done(request, found, "incident_linked", person.name)

    async def merge(self, request: web.Request) -> web.StreamResponse:
        """This incident is a duplicate: closed into the survivor named (key or id)."""
        person = require(request, "operator")
        form = await request.post()
        into = _text(form, "into", 32)
        if not into:
            raise web.HTTPBadRequest(text="merge into an incident: its key or id")
        try:
            merged = await self._actions.merge(
                request.match_info["ident"], into, self._by(request), _text(form, "comment"), _now()
            )
        except MergeRefused as exc:
            refusal = web.HTTPBadRequest if exc.unknown else web.HTTPConflict
            raise refusal(text=str(exc)) from None
        found = merged.duplicate if merged is not None else None
        return self._done(request, found, "incident_merged", person.name)

    def _by(self, request: web.Request) -> Operator:
        """The audit log's who: the person, and that they came in through the console."""
        person = request[PERSON]
        return Operator(actor=person.name, via=f"console@{self._console.client(request)}")

    @staticmethod
    def _done(
        request: web.Request, found: dict[str, Any] | None, event: str, user: str
    ) -> web.StreamResponse:
        if found is None:
            raise web.HTTPNotFound(text="no such incident")
        log.info(event, by=f"console:{user}", incident_key=found.get("key"))
        # back to the page, which shows the change (POST-redirect-GET)
        raise web.HTTPSeeOther(f"{PREFIX}/incidents/{found.get('key') or found['id']}")


def _now() -> datetime:
    return datetime.now(UTC)
