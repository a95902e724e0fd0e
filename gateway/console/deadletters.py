"""Dead letters: forwarding that gave up, with the sink's answer; an admin retries
one or several (the same store function as the API, with an audit-log row each)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from aiohttp import web

from gateway.api.params import query_int, whole_number
from gateway.console.access import PERSON, PREFIX, require
from gateway.console.app import Console
from storage import Operator, OutboxStore

log = structlog.get_logger("gateway.console")
PAGE = 100


class DeadLetterPages:
    def __init__(self, console: Console, store: OutboxStore, wake: Callable[[], None]) -> None:
        self._console = console
        self._store = store
        self._wake = wake  # the dispatcher's: a retried row goes out now

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{PREFIX}/deadletters", self.list),
            web.post(f"{PREFIX}/deadletters/retry", self.retry),
        ]

    async def list(self, request: web.Request) -> web.Response:
        before = query_int(request, "before")
        letters = await self._store.dead_letters(None, before, PAGE)
        items = [letter.as_json() for letter in letters]
        return self._console.page(
            request,
            "deadletters.html",
            section="deadletters",
            letters=items,
            next_before=items[-1]["id"] if len(items) == PAGE else None,
        )

    async def retry(self, request: web.Request) -> web.StreamResponse:
        person = require(request, "admin")
        form = await request.post()
        ids = [whole_number(str(value), "id") for value in form.getall("id", [])][:PAGE]
        if not ids:
            raise web.HTTPBadRequest(text="choose at least one dead letter")
        by = Operator(actor=person.name, via=f"console@{self._console.client(request)}")
        now = datetime.now(UTC)
        retried = [row_id for row_id in ids if await self._store.retry_dead(row_id, now, by)]
        if retried:
            self._wake()
        log.info("dead_letters_retried", by=f"console:{request[PERSON].name}", ids=retried)
        raise web.HTTPSeeOther(f"{PREFIX}/deadletters")
