"""The aiohttp application: health, readiness, metrics, webhooks, API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from gateway.api.httperrors import json_errors
from gateway.api.openapi import openapi_document
from gateway.api.routes import Api
from gateway.intake.webhooks import WebhookIntake
from gateway.metrics import Metrics


def build_http_app(
    *,
    webhooks: WebhookIntake,
    api: Api,
    metrics: Metrics,
    readiness: Callable[[], Awaitable[tuple[bool, dict[str, str]]]],
    max_body_bytes: int,
    extra_routes: Sequence[web.AbstractRouteDef] = (),
    middlewares: Sequence[Any] = (),
    on_shutdown: Sequence[Callable[[web.Application], Awaitable[None]]] = (),
) -> web.Application:
    # webhook bodies are bounded per integration by WebhookIntake; this is the outer cap
    app = web.Application(
        client_max_size=max_body_bytes + 1,
        middlewares=[json_errors, api.guard, *middlewares],
        # bodies are decoded by gateway.api.bodies, which refuses what it cannot decode
        handler_args={"auto_decompress": False},
    )
    # long-lived answers (server-sent events) end here, before the runner waits for them
    app.on_shutdown.extend(on_shutdown)
    openapi = orjson.dumps(openapi_document())

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        ready, checks = await readiness()
        return web.json_response(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status=200 if ready else 503,
        )

    async def metrics_endpoint(request: web.Request) -> web.Response:
        response = web.Response(body=metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def openapi_endpoint(request: web.Request) -> web.Response:
        return web.Response(body=openapi, content_type="application/json")

    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.get("/readyz", readyz),
            web.get("/metrics", metrics_endpoint),
            web.get("/api/v1/openapi.json", openapi_endpoint),
            web.post("/webhooks/{integration}", webhooks.handle),
            *api.routes(),
            *extra_routes,
        ]
    )
    return app


def bound_addresses(runner: web.AppRunner) -> list[str]:
    """The addresses the runner's sites listen on (the port chosen when 0 was asked)."""
    found = []
    server = runner.server
    for site in runner.sites:
        site_server = getattr(site, "_server", None)
        for sock in getattr(site_server, "sockets", None) or []:
            host, port = sock.getsockname()[:2]
            found.append(f"{host}:{port}")
    return found if server is not None else []
