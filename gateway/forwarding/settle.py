"""Group commit for finished deliveries.

Marking a row delivered is one small UPDATE, but a commit costs an fsync.
While one batch is being committed the next ones queue, and all of them go
in the following commit: under load a burst of deliveries costs one fsync,
at rest a single one costs no extra wait.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from storage import Claim, OutboxStore


class DeliveredWriter:
    def __init__(self, store: OutboxStore) -> None:
        self._store = store
        self._waiting: list[tuple[Claim, datetime, str, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def delivered(self, claim: Claim, now: datetime, response: str) -> None:
        """Return once the row is durably marked delivered (raises StorageUnavailable)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((claim, now, response, done))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_all())
        await done

    async def _write_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._store.delivered([(claim, now, text) for claim, now, text, _ in batch])
            except Exception as exc:  # noqa: BLE001 - handed to every waiter, which decides
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for *_, done in batch:
                if not done.done():
                    done.set_result(None)
