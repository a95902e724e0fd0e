"""Incident pages: the list (filters, order, keyset paging, counts) and one incident."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiMapping

from gateway.api.params import BadParameter, text
from gateway.console.access import PREFIX
from gateway.console.app import Console
from gateway.console.cached import Refreshed
from gateway.console.slaclocks import clocks, span
from rules.engine import CompiledRuleSet
from storage import SORTS, ListQuery, counts, forwarding_rows, get_incident, list_page, read_cursor

STATUSES = ("new", "acknowledged", "pending", "resolved", "closed")
PRIORITIES = ("P1", "P2", "P3", "P4")
PAGE = 50
TYPES = ("incident", "service_request", "complaint", "change_request")
COUNTS_MAX_AGE = 5.0
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


def _chosen(query: MultiMapping[str], name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    values = tuple(v for raw in query.getall(name, []) for v in raw.split(",") if v)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise BadParameter(f"unknown {name}: {', '.join(unknown)[:80]}")
    return values


def _text(query: MultiMapping[str], name: str) -> str | None:
    raw = query.get(name)
    return text(raw, name)[:200] if raw else None


def list_query(query: MultiMapping[str], limit: int = PAGE) -> ListQuery:
    """The list's filters, order and cursor from a query string."""
    sort = query.get("sort") or "newest"
    if sort not in SORTS:
        raise BadParameter(f"unknown sort: {sort[:40]}")
    major = query.get("major")
    if major not in (None, "", "true", "false"):
        raise BadParameter("major must be true or false")
    return ListQuery(
        status=_chosen(query, "status", STATUSES),
        priority=_chosen(query, "priority", PRIORITIES),
        type=_text(query, "type"),
        service=_text(query, "service"),
        assignment_group=_text(query, "assignment_group"),
        source=_text(query, "source"),
        major=None if not major else major == "true",
        text=_text(query, "q"),
        sort=sort,
        after=read_cursor(query.get("after")),
        limit=limit,
    )


def _filters_without_cursor(request: web.Request) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query.items() if k in _FILTERS and v]


class IncidentPages:
    def __init__(
        self,
        console: Console,
        postgres: bool,
        sources: Callable[[], list[str]],
        ruleset: Callable[[], CompiledRuleSet],
    ) -> None:
        self._ruleset = ruleset
        self._console = console
        self._postgres = postgres
        self._sources = sources
        # every incident is counted: at most once in COUNTS_MAX_AGE for all consoles
        self._counts = Refreshed(counts, COUNTS_MAX_AGE)

    def _choices(self) -> dict[str, list[str]]:
        """What the selects offer without reading the database: the types, and the
        sources the config names (integrations, mailboxes)."""
        return {"type": list(TYPES), "source": self._sources()}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{PREFIX}/incidents", self.list),
            web.get(f"{PREFIX}/incidents/{{ident}}", self.detail),
        ]

    async def list(self, request: web.Request) -> web.Response:
        query = list_query(request.query)
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
            "filters": urlencode(kept),
            "bulk_done": (request.query.get("changed"), request.query.get("refused")),
        }
        if request.query.get("fragment"):
            return self._console.page(request, "incident_rows.html", **values)
        return self._console.page(
            request,
            "incidents.html",
            section="incidents",
            counts=await self._counts.get(),
            choices=self._choices(),
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
            forwarding=await forwarding_rows(int(found["id"])),
            clocks=clocks(found, self._ruleset(), datetime.now(UTC)),
            span=span,
        )
