"""Silences: the list (creator, comment, times, what each holds, warnings), a new
silence prefilled from an event's labels, and expiring one. Created and expired
through the same store functions as the JSON API, which write the audit log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiohttp import web

from gateway.api.params import whole_number
from gateway.console.access import PERSON, PREFIX, require
from gateway.console.app import Console
from rules.matchers import MatcherError, compile_triples
from storage import (
    Actions,
    Database,
    NewSilence,
    Operator,
    event_by_id,
    extend_silence,
    report_silences,
)

log = structlog.get_logger("gateway.console")

OPS = ("=", "!=", "=~", "!~")
# how long a new silence lasts, in hours
DURATIONS = (1, 2, 4, 8, 24, 72, 168)
_MAX_MATCHERS = 20


def matchers_of(event: dict[str, Any]) -> list[dict[str, str]]:
    """An event's source, resource and name, then its labels, as matchers (all chosen:
    the narrowest silence; the operator unticks what should not narrow it)."""
    fields = [
        {"name": name, "op": "=", "value": str(event[name])}
        for name in ("source", "resource", "name")
        if event.get(name)
    ]
    labels = event.get("labels") or {}
    return (
        fields
        + [{"name": str(k), "op": "=", "value": str(v)} for k, v in sorted(labels.items())][
            : _MAX_MATCHERS - len(fields)
        ]
    )


def _form_matchers(form: Any) -> list[dict[str, str]]:
    found = []
    for index in range(_MAX_MATCHERS):
        if form.get(f"use_{index}") != "on":
            continue
        name, op, value = (str(form.get(f"{part}_{index}", "")) for part in ("name", "op", "value"))
        if not name or op not in OPS or len(name) > 128 or len(value) > 1024:
            raise web.HTTPBadRequest(text=f"matcher {index + 1}: a name, an operator, a value")
        if "\x00" in name + value:
            raise web.HTTPBadRequest(text="matchers hold no NUL characters")
        found.append({"name": name, "op": op, "value": value})
    if not found:
        raise web.HTTPBadRequest(text="choose at least one matcher")
    try:
        compile_triples([(m["name"], m["op"], m["value"]) for m in found])
    except MatcherError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return found


class SilencePages:
    def __init__(
        self, console: Console, actions: Actions, clock: Callable[[], datetime], db: Database
    ) -> None:
        self._db = db
        self._console = console
        self._actions = actions
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{PREFIX}/silences", self.list),
            web.get(f"{PREFIX}/silences/new", self.new),
            web.post(f"{PREFIX}/silences", self.create),
            web.post(f"{PREFIX}/silences/{{silence_id}}/expire", self.expire),
            web.post(f"{PREFIX}/silences/{{silence_id}}/extend", self.extend),
        ]

    async def list(self, request: web.Request) -> web.Response:
        include = request.query.get("all") == "1"
        items = await report_silences(self._clock(), include)
        return self._console.page(
            request,
            "silences.html",
            section="silences",
            silences=items,
            include_expired=include,
            durations=DURATIONS,
        )

    async def new(self, request: web.Request) -> web.Response:
        require(request, "operator")
        event = None
        raw = request.query.get("event")
        if raw:
            event = await event_by_id(whole_number(raw, "event"))
            if event is None:
                raise web.HTTPNotFound(text="no such event")
        matchers = matchers_of(event) if event else [{"name": "", "op": "=", "value": ""}]
        return self._console.page(
            request,
            "silence_new.html",
            section="silences",
            event=event,
            matchers=matchers,
            ops=OPS,
            durations=DURATIONS,
        )

    async def create(self, request: web.Request) -> web.StreamResponse:
        person = require(request, "operator")
        form = await request.post()
        matchers = _form_matchers(form)
        comment = str(form.get("comment", "")).strip()
        if not comment or len(comment) > 10_000 or "\x00" in comment:
            raise web.HTTPBadRequest(text="a silence needs a comment: why, and until what")
        hours = str(form.get("hours", ""))
        if hours not in {str(h) for h in DURATIONS}:
            raise web.HTTPBadRequest(text="choose how long the silence lasts")
        now = self._clock()
        created = await self._actions.create_silence(
            NewSilence(
                matchers=matchers,
                starts_at=now,
                ends_at=now + timedelta(hours=int(hours)),
                author=person.name,
                comment=comment,
            ),
            now,
            self._by(request),
        )
        log.info("silence_created", by=f"console:{person.name}", silence_id=created["id"])
        raise web.HTTPSeeOther(f"{PREFIX}/silences#silence-{created['id']}")

    async def expire(self, request: web.Request) -> web.StreamResponse:
        person = require(request, "operator")
        silence_id = whole_number(request.match_info["silence_id"], "silence_id")
        if not await self._actions.expire_silence(silence_id, self._clock(), self._by(request)):
            raise web.HTTPNotFound(text="no such active silence")
        log.info("silence_expired", by=f"console:{person.name}", silence_id=silence_id)
        raise web.HTTPSeeOther(f"{PREFIX}/silences")

    async def extend(self, request: web.Request) -> web.StreamResponse:
        person = require(request, "operator")
        silence_id = whole_number(request.match_info["silence_id"], "silence_id")
        hours = str((await request.post()).get("hours", ""))
        if hours not in {str(h) for h in DURATIONS}:
            raise web.HTTPBadRequest(text="choose how much longer the silence lasts")
        ends_at = await extend_silence(
            self._db, silence_id, timedelta(hours=int(hours)), self._clock(), self._by(request)
        )
        if ends_at is None:
            raise web.HTTPNotFound(text="no such active silence")
        log.info("silence_extended", by=f"console:{person.name}", silence_id=silence_id)
        raise web.HTTPSeeOther(f"{PREFIX}/silences#silence-{silence_id}")

    def _by(self, request: web.Request) -> Operator:
        return Operator(actor=request[PERSON].name, via=f"console@{self._console.client(request)}")


def utc_now() -> datetime:
    return datetime.now(UTC)
