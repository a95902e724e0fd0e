"""The JSON API under /api/v1/: incidents, events, actions, silences.

Without ``http.api_token`` or ``http.api_read_token`` the API answers loopback
clients only (a client behind a proxy is known only through a trusted proxy, see
``gateway.web.clientaddr``); with either, every request needs
``Authorization: Bearer <token>``, and the read token opens GET requests only
(and the dry run of POST /api/v1/explain, which stores nothing).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from core.errors import StorageUnavailable
from gateway.api.bodies import read_body
from gateway.api.jsonbody import json_error, json_response
from gateway.api.params import (
    MAX_KEY_LENGTH,
    BadParameter,
    id_or_key,
    page_size,
    path_int,
    query_flag,
    query_int,
    query_text,
)
from gateway.operators import operator, operator_log
from gateway.reports.csvout import CSV_PAGE, stream_cells, wants_csv
from gateway.web.clientaddr import CLIENT_ADDRESS, ClientAddresses
from rules.matchers import compile_triples
from storage import (
    ActionRefused,
    Actions,
    EventFilter,
    EventTable,
    IncidentFilter,
    MergeRefused,
    NewSilence,
    Operator,
    get_incident,
    incident_table,
    list_events,
    list_incidents,
)

if TYPE_CHECKING:
    from gateway.reload import ReloadResult

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

M = TypeVar("M", bound=BaseModel)

# Actions and silences are a few hundred bytes; this bounds what is read for them.
_MAX_BODY_BYTES = 1 << 20
# POSTs that change nothing, open to the read token: a dry run carries its payload
_READING_POSTS = frozenset({"/api/v1/explain"})
_STATUSES = {"new", "acknowledged", "pending", "resolved", "closed"}
_PRIORITIES = {"P1", "P2", "P3", "P4"}


# Bodies hold what their schema in the OpenAPI description says, no coercions:
# a number is not a time, and a time is RFC 3339 text.
_STRICT = ConfigDict(extra="forbid", strict=True)
# Texts end up in the database, and PostgreSQL holds no NUL in text or jsonb.
_NO_NUL = "^[^\\x00]*$"


class ActionBody(BaseModel):
    model_config = _STRICT
    author: str = Field(default="api", min_length=1, max_length=128, pattern=_NO_NUL)
    comment: str = Field(default="", max_length=10_000, pattern=_NO_NUL)


class MergeBody(BaseModel):
    """Merge the incident of the path (the duplicate) into ``into`` (the survivor)."""

    model_config = _STRICT
    into: str = Field(
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=_NO_NUL,
        description="the survivor: its key (INC-000123) or numeric id as text",
    )
    author: str = Field(default="api", min_length=1, max_length=128, pattern=_NO_NUL)
    comment: str = Field(default="", max_length=10_000, pattern=_NO_NUL)


class Matcher(BaseModel):
    model_config = _STRICT
    name: str = Field(min_length=1, max_length=128, pattern=_NO_NUL)
    op: Literal["=", "!=", "=~", "!~"] = "="
    value: str = Field(max_length=1024, pattern=_NO_NUL)

    @model_validator(mode="after")
    def _compiles(self) -> Matcher:
        # as the rule engine will compile it for every event: a regex that does not
        # compile, or a field no event has, would silence nothing
        compile_triples([(self.name, self.op, self.value)])
        return self


class SilenceBody(BaseModel):
    model_config = _STRICT
    matchers: list[Matcher] = Field(min_length=1, max_length=50)
    starts_at: datetime | None = None
    ends_at: datetime
    author: str = Field(min_length=1, max_length=128, pattern=_NO_NUL)
    comment: str = Field(min_length=1, max_length=10_000, pattern=_NO_NUL)

    @model_validator(mode="after")
    def _ends_after_start(self) -> SilenceBody:
        for stamp in (self.starts_at, self.ends_at):
            if stamp is not None and stamp.tzinfo is None:
                raise ValueError("times must carry a time zone, e.g. 2026-01-01T10:00:00Z")
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


def _same(given: str, expected: SecretStr) -> bool:
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


def _csv(value: str | None, allowed: set[str], name: str) -> tuple[str, ...]:
    if not value:
        return ()
    items = tuple(item.strip() for item in value.split(",") if item.strip())
    unknown = [item for item in items if item not in allowed]
    if unknown:
        raise BadParameter(f"unknown {name}: {', '.join(unknown)}")
    return items


class Api:
    def __init__(
        self,
        *,
        actions: Actions,
        token: Callable[[], SecretStr | None],
        clock: Callable[[], datetime],
        reload: Callable[[Operator], Awaitable[ReloadResult]],
        read_token: Callable[[], SecretStr | None] = lambda: None,
        clients: ClientAddresses | None = None,
    ) -> None:
        self._read_token = read_token
        self._clients = clients or ClientAddresses(lambda: ())
        self._reload = reload
        self._actions = actions
        self._token = token
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v1/incidents", self.incidents),
            web.get("/api/v1/incidents/{ident}", self.incident),
            web.post("/api/v1/incidents/{ident}/acknowledge", self.acknowledge),
            web.post("/api/v1/incidents/{ident}/pending", self.pending),
            web.post("/api/v1/incidents/{ident}/resolve", self.resolve),
            web.post("/api/v1/incidents/{ident}/merge", self.merge),
            web.get("/api/v1/events", self.events),
            web.get("/api/v1/silences", self.silences),
            web.post("/api/v1/silences", self.create_silence),
            web.delete("/api/v1/silences/{silence_id}", self.delete_silence),
            web.post("/api/v1/reload", self.reload),
        ]

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Authorise API calls and turn storage faults into 503."""
        if not request.path.startswith("/api/v1/") or request.path == "/api/v1/openapi.json":
            return await handler(request)
        request[CLIENT_ADDRESS] = self._clients.describe(request)
        allowed = self._allowed(request)
        if allowed is None:
            return json_error(401, "unauthorized", "send 'Authorization: Bearer <api token>'")
        if not allowed:
            return json_error(403, "read_only_token", "the read token opens GET requests only")
        try:
            return await handler(request)
        except StorageUnavailable as exc:
            return json_error(503, "unavailable", str(exc), {"Retry-After": "5"})

    def _allowed(self, request: web.Request) -> bool | None:
        """True: let in; False: a read token asking to write; None: not authorised."""
        # read each time: a reload may set, change or drop them
        write, read = self._token(), self._read_token()
        if write is None and read is None:
            return True if self._clients.is_loopback(request) else None
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        if write is not None and _same(given, write):
            return True
        if read is not None and _same(given, read):
            return request.method in ("GET", "HEAD") or request.path in _READING_POSTS
        return None

    async def incidents(self, request: web.Request) -> web.StreamResponse:
        limit = page_size(request)
        chosen = IncidentFilter(
            status=_csv(query_text(request, "status"), _STATUSES, "status"),
            priority=_csv(query_text(request, "priority"), _PRIORITIES, "priority"),
            service=query_text(request, "service"),
            type=query_text(request, "type"),
            major=query_flag(request, "major"),
            before=query_int(request, "before"),
            limit=limit,
        )
        if wants_csv(request):  # every match, a page at a time
            return await stream_cells(request, "incidents.csv", incident_table(chosen, CSV_PAGE))
        return self._page(await list_incidents(chosen), limit)

    async def incident(self, request: web.Request) -> web.Response:
        found = await get_incident(id_or_key(request, "ident"))
        if found is None:
            return json_error(404, "not_found", "no such incident")
        return json_response(found)

    async def events(self, request: web.Request) -> web.StreamResponse:
        limit = page_size(request)
        chosen = EventFilter(
            status=query_text(request, "status"),
            incident_id=query_int(request, "incident_id"),
            source=query_text(request, "source"),
            before=query_int(request, "before"),
            limit=limit,
        )
        if wants_csv(request):
            return await stream_cells(request, "events.csv", EventTable().pages(chosen, CSV_PAGE))
        return self._page(await list_events(chosen), limit)

    @staticmethod
    def _page(items: list[dict[str, Any]], limit: int) -> web.Response:
        next_before = items[-1]["id"] if len(items) == limit else None
        return json_response({"items": items, "next_before": next_before})

    async def acknowledge(self, request: web.Request) -> web.Response:
        return await self._act(request, self._actions.acknowledge, "incident_acknowledged")

    async def resolve(self, request: web.Request) -> web.Response:
        return await self._act(request, self._actions.resolve, "incident_resolved")

    async def pending(self, request: web.Request) -> web.Response:
        return await self._act(request, self._actions.pending, "incident_pending")

    async def _act(
        self,
        request: web.Request,
        action: Callable[
            [int | str, str, str, datetime, Operator | None], Awaitable[dict[str, Any] | None]
        ],
        done: str,
    ) -> web.Response:
        ident = id_or_key(request, "ident")
        body = await self._body(request, ActionBody, allow_empty=True)
        if isinstance(body, web.Response):
            return body
        try:
            found = await action(
                ident, body.author, body.comment, self._clock(), operator(request, body.author)
            )
        except ActionRefused as exc:
            return json_error(409, "conflict", str(exc))
        if found is None:
            return json_error(404, "not_found", "no such incident")
        operator_log(request, done, author=body.author, incident_key=found.get("key"))
        return json_response(found)

    async def merge(self, request: web.Request) -> web.Response:
        """Close the duplicate into its survivor; the answer is the duplicate, merged."""
        ident = id_or_key(request, "ident")
        body = await self._body(request, MergeBody, allow_empty=False)
        if isinstance(body, web.Response):
            return body
        by = operator(request, body.author)
        try:
            merged = await self._actions.merge(ident, body.into, by, body.comment, self._clock())
        except MergeRefused as exc:
            if exc.unknown:
                return json_error(422, "unknown_incident", str(exc))
            return json_error(409, "conflict", str(exc))
        if merged is None:
            return json_error(404, "not_found", "no such incident")
        found = merged.duplicate
        into = merged.survivor.get("key")
        operator_log(
            request, "incident_merged", author=body.author, incident_key=found["key"], into=into
        )
        return json_response(found)

    async def reload(self, request: web.Request) -> web.Response:
        """Re-read config and rules; 422 with every problem if they are not applied."""
        result = await self._reload(operator(request))
        if not result.applied:
            return json_response(
                {
                    "error": "restart_required" if result.restart_needed else "invalid_config",
                    "message": "the old configuration stays in use",
                    "problems": list(result.problems),
                },
                status=422,
            )
        return json_response(
            {
                "status": "reloaded",
                "rules": result.rules,
                "sinks": result.sinks.as_json(),
                "kept_rows": dict(result.kept_rows),
            }
        )

    async def silences(self, request: web.Request) -> web.Response:
        include = query_flag(request, "include_expired") or False
        items = await self._actions.list_silences(self._clock(), include)
        return json_response({"items": items})

    async def create_silence(self, request: web.Request) -> web.Response:
        body = await self._body(request, SilenceBody, allow_empty=False)
        if isinstance(body, web.Response):
            return body
        now = self._clock()
        created = await self._actions.create_silence(
            NewSilence(
                matchers=[matcher.model_dump() for matcher in body.matchers],
                starts_at=body.starts_at or now,
                ends_at=body.ends_at,
                author=body.author,
                comment=body.comment,
            ),
            now,
            operator(request, body.author),
        )
        operator_log(
            request,
            "silence_created",
            author=body.author,
            silence_id=created.get("id"),
            ends_at=body.ends_at.isoformat(),
        )
        return json_response(created, status=201)

    async def delete_silence(self, request: web.Request) -> web.Response:
        silence_id = path_int(request, "silence_id")
        if not await self._actions.expire_silence(silence_id, self._clock(), operator(request)):
            return json_error(404, "not_found", "no such active silence")
        operator_log(request, "silence_expired", silence_id=silence_id)
        return json_response({"id": silence_id, "state": "expired"})

    @staticmethod
    async def _body(request: web.Request, model: type[M], *, allow_empty: bool) -> M | web.Response:
        raw = await read_body(request, _MAX_BODY_BYTES)
        if not raw.strip() and allow_empty:
            return model()
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(step) for step in first["loc"]) or "body"
            return json_error(400, "invalid_body", f"{where}: {first['msg']}")
