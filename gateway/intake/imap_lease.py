"""One replica at a time polls an IMAP folder; another takes over when it dies.

Two replicas polling one folder would not make duplicates (records are keyed
by the mail's identity), but they would fetch every message twice and race
to mark it. The replica that polls holds the folder's lease in the database
(``storage.leases``) and extends it every third of its duration; the others
try to take it at the same pace, so a dead replica's folder is taken over
within about one and a third lease durations. A clean stop gives the lease
up at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress

import structlog

from core.errors import StorageUnavailable
from storage import LeaseStore

log = structlog.get_logger(__name__)

LEASE_SECONDS = 30.0


class FolderLease:
    """The lease on one folder, as seen by one replica."""

    def __init__(
        self, store: LeaseStore, name: str, owner: str, seconds: float = LEASE_SECONDS
    ) -> None:
        self._store = store
        self.name = name
        self._owner = owner
        self._seconds = seconds
        self.renew_every = seconds / 3

    async def acquire(self, stopping: asyncio.Event) -> bool:
        """Wait until this replica holds the lease (True), or ``stopping`` is set (False)."""
        while not stopping.is_set():
            if await self._hold():
                return True
            with suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.renew_every)
        return False

    async def keep(self, lost: Callable[[], None]) -> None:
        """Extend the lease until cancelled; call ``lost`` once if that fails (another
        replica took it, or the database cannot confirm it), then return."""
        while True:
            await asyncio.sleep(self.renew_every)
            if not await self._hold():
                lost()
                return

    async def release(self) -> None:
        try:
            await self._store.release(self.name, self._owner)
        except StorageUnavailable as exc:  # it runs out by itself
            log.warning("imap_lease_not_released", lease=self.name, error=str(exc))

    async def _hold(self) -> bool:
        try:
            return await self._store.hold(self.name, self._owner, self._seconds)
        except StorageUnavailable as exc:
            log.warning("imap_lease_unconfirmed", lease=self.name, error=str(exc))
            return False
