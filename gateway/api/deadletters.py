"""Dead letters under /api/v1/: list them with the sink's answer, retry one.

Mounted on the same app as ``gateway.api.routes.Api``, whose middleware authorises
every /api/v1/ path (bearer token, or loopback only) and turns storage faults
into 503.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from gateway.api.jsonbody import json_error, json_response
from gateway.api.params import page_size, path_int, query_int, query_text
from gateway.operators import operator, operator_log
from storage import OutboxStore


class DeadLettersApi:
    def __init__(
        self, store: OutboxStore, clock: Callable[[], datetime], wake: Callable[[], None]
    ) -> None:
        self._store = store
        self._clock = clock
        self._wake = wake  # the dispatcher's wake(): a retried row goes out now

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v1/deadletters", self.list),
            web.post("/api/v1/deadletters/{row_id}/retry", self.retry),
        ]

    async def list(self, request: web.Request) -> web.Response:
        """Newest first; ``sink`` filters, ``before`` (an id) pages, ``limit`` caps."""
        limit = page_size(request)
        before = query_int(request, "before")
        found = await self._store.dead_letters(query_text(request, "sink"), before, limit)
        items = [letter.as_json() for letter in found]
        next_before = items[-1]["id"] if len(items) == limit and items else None
        return json_response({"items": items, "next_before": next_before})

    async def retry(self, request: web.Request) -> web.Response:
        row_id = path_int(request, "row_id")
        if not await self._store.retry_dead(row_id, self._clock(), operator(request)):
            return json_error(404, "not_found", "no such dead letter (or it is not dead any more)")
        self._wake()
        operator_log(request, "dead_letter_retried", outbox_id=row_id)
        return json_response({"id": row_id, "state": "pending"}, status=202)
