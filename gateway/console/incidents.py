"""Incident pages: the list (filters, order, keyset paging, counts) and one incident."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from gateway.console.access import PREFIX
from gateway.console.app import Console
from gateway.params import BadParameter, query_flag, query_text
from storage.incident_detail import forwarding
from storage.incident_list import SORTS, ListQuery, choices, counts, list_page, read_cursor
from storage.views import get_incident

STATUSES = ("new", "acknowledged", "resolved", "closed")
PRIORITIES = ("P1", "P2", "P3", "P4")
PAGE = 50
_FILTERS = (
    "status",
    "priority",
    "type",
    "service",
    "assignment_group",
    "source",
    "major",
    "q",
    "sort",
)


def _chosen(request: web.Request, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    values = tuple(v for raw in request.query.getall(name, []) for v in raw.split(",") if v)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise BadParameter(f"unknown {name}: {', '.join(unknown)[:80]}")
    return values


def list_query(request: web.Request, limit: int = PAGE) -> ListQuery:
    sort = request.query.get("sort") or "newest"
    if sort not in SORTS:
        raise BadParameter(f"unknown sort: {sort[:40]}")
    major = query_flag(request, "major") if request.query.get("major") else None
    text = query_text(request, "q")
    return ListQuery(
        status=_chosen(request, "status", STATUSES),
        priority=_chosen(request, "priority", PRIORITIES),
        type=query_text(request, "type"),
        service=query_text(request, "service"),
        assignment_group=query_text(request, "assignment_group"),
        source=query_text(request, "source"),
        major=major,
        text=text[:200] if text else None,
        sort=sort,
        after=read_cursor(request.query.get("after")),
        limit=limit,
    )


def _filters_without_cursor(request: web.Request) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query.items() if k in _FILTERS and v]


class IncidentPages:
    def __init__(self, console: Console, postgres: bool) -> None:
        self._console = console
        self._postgres = postgres

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{PREFIX}/incidents", self.list),
            web.get(f"{PREFIX}/incidents/{{ident}}", self.detail),
        ]

    async def list(self, request: web.Request) -> web.Response:
        query = list_query(request)
        items, cursor = await list_page(query, self._postgres)
        kept = _filters_without_cursor(request)
        values: dict[str, Any] = {
            "items": items,
            "query": query,
            "next_url": f"{PREFIX}/incidents?{urlencode([*kept, ('after', cursor)])}"
            if cursor
            else None,
            "first_url": f"{PREFIX}/incidents?{urlencode(kept)}" if query.after else None,
            "statuses": STATUSES,
            "priorities": PRIORITIES,
            "sorts": tuple(SORTS),
        }
        if request.query.get("fragment"):
            return self._console.page(request, "incident_rows.html", **values)
        return self._console.page(
            request,
            "incidents.html",
            section="incidents",
            counts=await counts(),
            choices=await choices(),
            **values,
        )

    async def detail(self, request: web.Request) -> web.Response:
        ident = request.match_info["ident"]
        if len(ident) > 32 or "\x00" in ident:
            raise web.HTTPNotFound(text="no such incident")
        found = await get_incident(ident)
        if found is None:
            raise web.HTTPNotFound(text="no such incident")
        template = "incident_body.html" if request.query.get("fragment") else "incident.html"
        return self._console.page(
            request,
            template,
            section="incidents",
            incident=found,
            forwarding=await forwarding(int(found["id"])),
        )
