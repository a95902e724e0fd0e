"""Servers that take what the gateway posts and keep it: a webhook receiver,
PagerDuty's Events API v2, and chat robots (answering like each robot)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.integration.fakes.server import FakeServer, error


class Receiver(FakeServer):
    """Accepts POSTs on any path; answers ``answer`` (JSON) with ``status``."""

    def __init__(self, answer: Any = None, status: int = 200) -> None:
        super().__init__()
        self.answer = answer if answer is not None else {"ok": True}
        self.status = status
        self.received: list[tuple[web.Request, bytes]] = []
        self.app.router.add_route("*", "/{tail:.*}", self.take)

    def bodies(self) -> list[Any]:
        import orjson

        return [orjson.loads(body) for _, body in self.received]

    async def take(self, request: web.Request) -> web.Response:
        self.received.append((request, await request.read()))
        return web.json_response(self.answer, status=self.status)


class FakePagerDuty(FakeServer):
    def __init__(self, routing_key: str = "R0UT1NGKEY") -> None:
        super().__init__()
        self.routing_key = routing_key
        self.events: list[dict[str, Any]] = []
        self.alerts: dict[str, str] = {}  # dedup_key -> triggered | acknowledged | resolved
        self.app.router.add_post("/v2/enqueue", self.enqueue)

    async def enqueue(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("routing_key") != self.routing_key:
            return error(
                400,
                status="invalid event",
                message="Event object is invalid",
                errors=["'routing_key' is invalid"],
            )
        action = body.get("event_action")
        if action == "trigger" and not body.get("payload", {}).get("summary"):
            return error(
                400,
                status="invalid event",
                message="Event object is invalid",
                errors=["'payload.summary' is missing or blank"],
            )
        self.events.append(body)
        state = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}
        self.alerts[body["dedup_key"]] = state[action]
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]},
            status=202,
        )
