"""How long SQLite waits for another process's write lock, and whether a write
could begin now.

Only another process can hold the file's write lock (one daemon per file;
its own writers take turns on one connection). While it does, every
statement on the daemon's shared connection waits the busy timeout, and
everyone queued behind it too: the daemon's is short, so a sender waiting for
a commit hears 451/503 within a second or two rather than for as long as the
lock is held. A tool beside the daemon (replay, a report) waits longer: the
daemon's transactions are short, and a person waits for the tool.

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

_DAEMON_BUSY_MS = 500
_TOOL_BUSY_MS = 10_000
_PROBE_BUSY_MS = 100


def busy_ms(*, exclusive: bool) -> int:
    """The busy timeout of a connection: the daemon's (exclusive) or a tool's."""
    return _DAEMON_BUSY_MS if exclusive else _TOOL_BUSY_MS


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
