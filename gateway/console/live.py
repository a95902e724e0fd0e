"""Live updates by server-sent events (``GET /ui/stream``).

One task per daemon, not per console, reads which incidents changed since the
last look (new timeline entries: a primary-key range, once every
``POLL_SECONDS``) and hands the ids to every open stream; it runs only while
someone listens. A console that falls behind loses nothing but the detail:
its queue holds one pending notice. Streams end when the daemon stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import orjson
import structlog
from aiohttp import web

from core.errors import StorageUnavailable
from gateway.console.access import PREFIX
from storage import changed_since, timeline_head

log = structlog.get_logger("gateway.console")

POLL_SECONDS = 2.0
KEEPALIVE_SECONDS = 15.0
MAX_STREAMS = 1000


class LiveFeed:
    def __init__(self, poll_seconds: float = POLL_SECONDS) -> None:
        self._poll = poll_seconds
        self._queues: set[asyncio.Queue[list[int]]] = set()
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    def routes(self) -> list[web.RouteDef]:
        return [web.get(f"{PREFIX}/stream", self.stream)]

    @contextlib.asynccontextmanager
    async def _subscribed(self) -> AsyncIterator[asyncio.Queue[list[int]]]:
        queue: asyncio.Queue[list[int]] = asyncio.Queue(maxsize=1)
        self._queues.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch(), name="console-live-feed")
        try:
            yield queue
        finally:
            self._queues.discard(queue)
            if not self._queues and self._task is not None:
                self._task.cancel()
                self._task = None

    async def _watch(self) -> None:
        head = None
        while self._queues:
            try:
                if head is None:
                    head = await timeline_head()
                else:
                    head, changed = await changed_since(head)
                    if changed:
                        self._publish(changed)
            except StorageUnavailable as exc:
                log.warning("console_live_feed_unavailable", error=str(exc))
            await asyncio.sleep(self._poll)

    def _publish(self, changed: list[int]) -> None:
        for queue in list(self._queues):
            if queue.full():  # a notice is already waiting: merge into it
                merged = sorted({*queue.get_nowait(), *changed})
                queue.put_nowait(merged)
            else:
                queue.put_nowait(changed)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        if len(self._queues) >= MAX_STREAMS:
            raise web.HTTPServiceUnavailable(text="too many live consoles; reload later")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # nginx: pass events on at once
            }
        )
        await response.prepare(request)
        # the console went away (a page left, a tab closed): nothing to answer, no fault
        with contextlib.suppress(ConnectionResetError):
            await self._send(response)
        return response

    async def _send(self, response: web.StreamResponse) -> None:
        await response.write(b"retry: 5000\n\n")
        async with self._subscribed() as queue:
            while not self._closing.is_set():
                waiter = asyncio.create_task(queue.get())
                closing = asyncio.create_task(self._closing.wait())
                done, _ = await asyncio.wait(
                    {waiter, closing},
                    timeout=KEEPALIVE_SECONDS,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                closing.cancel()
                if waiter in done:
                    data = orjson.dumps(waiter.result())
                    await response.write(b"event: changed\ndata: " + data + b"\n\n")
                else:
                    waiter.cancel()
                    await response.write(b": keep-alive\n\n")

    async def close(self, app: web.Application) -> None:
        """On shutdown: end every stream so the listener stops without waiting."""
        self._closing.set()
