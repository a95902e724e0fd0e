"""POST /api/v1/explain: what the gateway would make of a payload, nothing stored.

The body is the payload as a sender sends it: a raw mail (``message/rfc822``) or a
webhook body. ``integration`` names the integration or mailbox it is for; without it,
a mail goes to the mailbox its To/Cc name (else the only mailbox), anything else to
the only integration. Mounted on the app of ``gateway.api.routes.Api``, whose middleware
authorises every /api/v1/ path and turns storage faults into 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from core.errors import DataRejected, ParseError, WriteConflict
from gateway.api.bodies import read_body
from gateway.api.jsonbody import json_error, json_response
from gateway.api.params import BadParameter, query_text
from gateway.processing.explain import dry_judge, explained
from gateway.processing.explain_source import UnknownSource, payload
from gateway.runtime import Runtime
from storage import Database, IncidentStore

# larger payloads are parsed off the event loop, as the pipeline does
_THREAD_PARSE_BYTES = 64 * 1024


class ExplainApi:
    def __init__(
        self,
        *,
        db: Database,
        store: IncidentStore,
        runtime: Callable[[], Runtime],
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._store = store
        self._runtime = runtime
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/api/v1/explain", self.explain)]

    async def explain(self, request: web.Request) -> web.Response:
        runtime = self._runtime()
        raw = await read_body(request, runtime.loaded.config.body_cap())
        if not raw.strip():
            return json_error(400, "empty_body", "send the payload (a raw mail or a webhook body)")
        now = self._clock()
        try:
            found = payload(
                runtime,
                raw,
                named=query_text(request, "integration"),
                content_type=request.content_type,
                mail_from=query_text(request, "mail_from"),
                now=now,
            )
        except UnknownSource as exc:
            raise BadParameter(str(exc)) from None
        try:
            if len(raw) > _THREAD_PARSE_BYTES:
                events = await asyncio.to_thread(found.parser.parse, found.record)
            else:
                events = found.parser.parse(found.record)
        except ParseError as exc:
            return json_error(422, "unparseable", f"{exc.reason}: {exc}")
        ruleset = runtime.ruleset
        try:
            run = await dry_judge(self._db, self._store, ruleset, events, now)
        except DataRejected as exc:
            return json_error(422, "unstorable", str(exc))
        except WriteConflict as exc:  # another writer took the same row meanwhile
            return json_error(503, "conflict", str(exc), {"Retry-After": "1"})
        return json_response(explained(found, events, run, ruleset))
