"""Whether a write could begin on SQLite now.

With WAL, another process holding the file's write lock (``BEGIN EXCLUSIVE``,
a long write of a tool) stops every write while reads still go through: a
``SELECT 1`` says nothing about whether intake can commit. This probe takes
the write lock and gives it back at once, waiting only briefly: this
process's writers take turns on the same connection, so only another process
can hold the lock, and the connection is shared with intake.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from core.errors import StorageUnavailable

_PROBE_BUSY_MS = 100


def _begin_and_roll_back(connection: sqlite3.Connection, busy_ms: int) -> None:
    connection.execute(f"PRAGMA busy_timeout = {_PROBE_BUSY_MS}")
    try:
        connection.execute("BEGIN IMMEDIATE")  # takes the write lock, or fails
        connection.execute("ROLLBACK")
    finally:
        connection.execute(f"PRAGMA busy_timeout = {busy_ms}")


async def sqlite_writable(client: Any, busy_ms: int) -> None:
    """Raise StorageUnavailable unless the write lock of ``client``'s file can be taken;
    ``busy_ms``: the connection's own busy timeout, set back afterwards."""
    try:
        async with client.acquire_connection() as handle:  # holds the client's lock
            run: Callable[..., Awaitable[None]] = handle._execute  # the connection's thread
            await run(_begin_and_roll_back, handle._conn, busy_ms)
    except sqlite3.Error as exc:
        raise StorageUnavailable(f"database cannot be written: {exc}") from exc
