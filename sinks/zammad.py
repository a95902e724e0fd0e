"""Zammad: tickets, articles, state and priority; found again by searching the key."""

from __future__ import annotations

from typing import Any, ClassVar

import aiohttp

from core.outbox import TicketRef
from sinks.base import HttpSink, target_state
from sinks.config import ZammadSinkConfig
from sinks.delivery import Delivered, Delivery
from sinks.templates import Templates


class ZammadSink(HttpSink):
    kind: ClassVar[str] = "zammad"
    tracks_tickets: ClassVar[bool] = True
    can_lookup: ClassVar[bool] = True

    def __init__(
        self, config: ZammadSinkConfig, session: aiohttp.ClientSession, templates: Templates
    ) -> None:
        super().__init__(config.name, session, templates, config.timeout_seconds)
        self._config = config
        self._base = config.url.rstrip("/")
        token = config.token.resolve().get_secret_value()
        self._headers = {"Authorization": f"Token token={token}", "Accept": "application/json"}

    async def _request(self, method: str, path: str, **options: Any) -> Any:
        answer = await self._call(
            method, f"{self._base}/api/v1{path}", headers=self._headers, **options
        )
        return answer.json()

    def _ticket(self, ticket_id: Any) -> TicketRef:
        return TicketRef(str(ticket_id), f"{self._base}/#ticket/zoom/{ticket_id}")

    async def create(self, delivery: Delivery) -> Delivered:
        context = delivery.context()
        title = self._templates.render_line("summary", context)
        body = {
            "title": title,
            "group": self._config.group,
            "customer": self._config.customer,
            "priority": self._config.priority_map[str(delivery.incident["priority"])],
            "article": {
                "subject": title,
                "body": self._templates.render("description", context),
                "type": "note",
                "internal": False,
            },
        }
        created = await self._request("POST", "/tickets", json=body)
        return Delivered(
            ticket=self._ticket(created["id"]), response=f"created #{created.get('number', '')}"
        )

    async def lookup(self, delivery: Delivery) -> TicketRef | None:
        """Full-text search on the key, then an exact check of the title's tag."""
        found = await self._request(
            "GET",
            "/tickets/search",
            params={"query": delivery.key, "limit": "20", "expand": "true"},
        )
        tickets = found if isinstance(found, list) else []
        tag = f"[{delivery.key}]"
        for ticket in tickets:
            if tag in str(ticket.get("title", "")):
                return self._ticket(ticket["id"])
        return None

    async def apply(self, delivery: Delivery, ticket: TicketRef | None) -> Delivered:
        assert ticket is not None, "Zammad tracks tickets: the dispatcher passes one"
        done = []
        text = self._templates.render("comment", delivery.context())
        if text:
            article = {
                "ticket_id": int(ticket.ticket_id),
                "body": text,
                "type": "note",
                "internal": False,
            }
            await self._request("POST", "/ticket_articles", json=article)
            done.append("article")
        changes: dict[str, str] = {}
        state = target_state(delivery, self._config)
        if state:
            changes["state"] = state
        if "priority" in delivery.changes:
            changes["priority"] = self._config.priority_map[str(delivery.incident["priority"])]
        if changes:
            await self._request("PUT", f"/tickets/{ticket.ticket_id}", json=changes)
            done.extend(sorted(changes))
        return Delivered(response=f"#{ticket.ticket_id}: {', '.join(done) or 'nothing to change'}")
