"""A Zammad REST server for tests: tickets, articles, search."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.integration.fakes.server import FakeServer, error


class FakeZammad(FakeServer):
    def __init__(self, token: str = "zammad-token") -> None:
        super().__init__()
        self.token = token
        self.tickets: dict[int, dict[str, Any]] = {}
        self.articles: dict[int, list[str]] = {}
        self.app.router.add_post("/api/v1/tickets", self.create)
        self.app.router.add_get("/api/v1/tickets/search", self.search)
        self.app.router.add_put("/api/v1/tickets/{id}", self.update)
        self.app.router.add_post("/api/v1/ticket_articles", self.article)

    def _denied(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Token token={self.token}":
            return error(401, error="authentication failed")
        return None

    async def create(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied:
            return denied
        body = await request.json()
        if not body.get("title") or not body.get("group"):
            return error(422, error="title and group are required")
        ticket_id = len(self.tickets) + 1
        article = body.pop("article", None)
        self.tickets[ticket_id] = {
            **body,
            "id": ticket_id,
            "number": str(31000 + ticket_id),
            "state": "new",
        }
        self.articles[ticket_id] = [article["body"]] if article else []
        return web.json_response(self.tickets[ticket_id], status=201)

    async def search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "")
        found = [t for t in self.tickets.values() if query and query in t["title"]]
        return web.json_response(found[: int(request.query.get("limit", "10"))])

    async def update(self, request: web.Request) -> web.Response:
        ticket = self.tickets.get(int(request.match_info["id"]))
        if ticket is None:
            return error(404, error="Couldn't find Ticket")
        ticket.update(await request.json())
        return web.json_response(ticket)

    async def article(self, request: web.Request) -> web.Response:
        body = await request.json()
        ticket_id = int(body.get("ticket_id", 0))
        if ticket_id not in self.tickets:
            return error(422, error="ticket_id is invalid")
        self.articles[ticket_id].append(body["body"])
        return web.json_response({"id": 1, "ticket_id": ticket_id}, status=201)
