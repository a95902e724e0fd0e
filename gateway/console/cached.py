"""A value that is costly to read (the counts at the top of the list: a scan of
every incident) read at most once per ``max_age`` for every console together,
and never in a request's path once there is one: a stale value is served while
a refresh runs in the background (stale-while-revalidate)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import structlog

from core.errors import StorageUnavailable

T = TypeVar("T")
log = structlog.get_logger("gateway.console")


class Refreshed(Generic[T]):
    def __init__(self, read: Callable[[], Awaitable[T]], max_age: float) -> None:
        self._read = read
        self._max_age = max_age
        self._value: T | None = None
        self._at = 0.0
        self._refresh: asyncio.Task[None] | None = None

    async def get(self) -> T:
        if self._value is None:  # the first time: nothing to serve yet
            self._value, self._at = await self._read(), time.monotonic()
            return self._value
        if time.monotonic() - self._at > self._max_age and (
            self._refresh is None or self._refresh.done()
        ):
            self._refresh = asyncio.create_task(self._update(), name="console-counts")
        return self._value

    async def _update(self) -> None:
        try:
            self._value, self._at = await self._read(), time.monotonic()
        except StorageUnavailable as exc:
            log.warning("console_counts_unavailable", error=str(exc))
