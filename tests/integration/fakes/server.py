"""A local HTTP server for a fake API, with faults a test can queue.

A fault applies to the next request matching its method and path prefix:
answer a status without doing anything, do the work and answer late (a
timeout that hides a success), or do the work and drop the connection.
``stop()`` and ``start()`` take the server down and bring it back on the same
port (connection refused in between).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Fault:
    method: str = ""  # empty: any
    path: str = ""  # a path prefix; empty: any
    status: int | None = None  # answer this instead of doing the work
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    late_seconds: float = 0.0  # do the work, then answer this late
    reset: bool = False  # do the work, then drop the connection unanswered

    def matches(self, request: web.Request) -> bool:
        return (not self.method or request.method == self.method) and request.path.startswith(
            self.path
        )


class FakeServer:
    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.app = web.Application(middlewares=[self._faults])
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    async def start(self) -> None:
        if self._runner is None:
            self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
            await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        server = self._site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Down: new connections are refused until ``start()``."""
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def close(self) -> None:
        await self.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _take(self, request: web.Request) -> Fault | None:
        for index, fault in enumerate(self.faults):
            if fault.matches(request):
                return self.faults.pop(index)
        return None

    @web.middleware
    async def _faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        fault = self._take(request)
        if fault is None:
            return await handler(request)
        if fault.status is not None:
            if isinstance(fault.body, (dict, list)):
                return web.json_response(fault.body, status=fault.status, headers=fault.headers)
            return web.Response(
                text=str(fault.body or ""), status=fault.status, headers=fault.headers
            )
        response = await handler(request)
        if fault.late_seconds:
            await asyncio.sleep(fault.late_seconds)
        if fault.reset and request.transport is not None:
            request.transport.abort()
        return response


def error(code: int, **body: Any) -> web.Response:
    return web.json_response(body, status=code)
