"""Bulk actions from the incident list: acknowledge, resolve or reassign the chosen
incidents, or every incident the list's filter selects (up to ``MAX_BULK``),
applied on the server in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

import structlog
from aiohttp import web
from multidict import MultiDict

from gateway.api.params import whole_number
from gateway.console.access import PREFIX, require
from gateway.console.app import Console
from gateway.console.incidents import list_query
from storage import BulkActions, BulkKind, Operator, ids_matching

log = structlog.get_logger("gateway.console")
MAX_BULK = 1000
_KINDS: dict[str, BulkKind] = {
    "acknowledge": "acknowledge",
    "resolve": "resolve",
    "assign": "assign",
}


class BulkPages:
    def __init__(self, console: Console, bulk: BulkActions, postgres: bool) -> None:
        self._console = console
        self._bulk = bulk
        self._postgres = postgres

    def routes(self) -> list[web.RouteDef]:
        return [web.post(f"{PREFIX}/incidents/bulk", self.apply)]

    async def apply(self, request: web.Request) -> web.StreamResponse:
        person = require(request, "operator")
        form = await request.post()
        kind = _KINDS.get(str(form.get("bulk_action", "")))
        if kind is None:
            raise web.HTTPBadRequest(text="choose acknowledge, resolve or assign")
        group = str(form.get("assignment_group", "")).strip()
        if kind == "assign" and (not group or len(group) > 128 or "\x00" in group):
            raise web.HTTPBadRequest(text="assign needs an assignment group")
        comment = str(form.get("comment", "")).strip()[:10_000].replace("\x00", "")
        filters = str(form.get("filters", ""))[:2000]
        if form.get("scope") == "filter":
            query = list_query(MultiDict(parse_qsl(filters)), limit=MAX_BULK)
            ids = await ids_matching(query, self._postgres, MAX_BULK)
        else:
            ids = [whole_number(str(v), "id") for v in form.getall("id", [])][:MAX_BULK]
        if not ids:
            raise web.HTTPBadRequest(text="choose incidents, or apply to the filter")
        by = Operator(actor=person.name, via=f"console@{self._console.client(request)}")
        result = await self._bulk.apply(
            kind, ids, by, datetime.now(UTC), comment=comment, group=group
        )
        log.info(
            "incidents_bulk",
            by=f"console:{person.name}",
            action=kind,
            changed=len(result.changed),
            refused=len(result.refused),
        )
        done = urlencode({"changed": len(result.changed), "refused": len(result.refused)})
        raise web.HTTPSeeOther(f"{PREFIX}/incidents?{filters}{'&' if filters else ''}{done}")
