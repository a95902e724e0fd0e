"""PostgreSQL pool connections that never hand out a session the server has ended.

When PostgreSQL ends a session (``pg_terminate_backend``, a restart, a failover),
it sends an error and closes the socket. asyncpg reads that error even on a
connection idle in the pool and leaves its protocol waiting for the end of an
operation nobody started, until it notices the closed socket a few loop turns
later. A task that takes the connection in between fails with "cannot switch
to state N; another operation is in progress" before anything is sent; and a
connection whose operation failed that way went back to the pool as it was,
since the pool's reset (skipped here: see ``database._keep_session``) no longer
sent a query that would have found out. So one ended session failed several
unrelated requests in a row.

A connection in our pool is therefore checked where it must be quiet: given
back after its work, and taken out for new work. A pending byte or a closed
socket there means the server spoke unasked, which here only happens when it
ends the session; the connection is then dropped and the pool opens a new one.
The check is one ``poll`` system call, no round trip.
"""

from __future__ import annotations

import select
from typing import Any

import asyncpg

_UNASKED = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLRDHUP


def spoke_unasked(connection: Any) -> bool:
    """Whether a connection that should be quiet has data or an end of stream waiting."""
    transport = getattr(connection, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return False
    poller = select.poll()
    poller.register(sock.fileno(), _UNASKED)
    return bool(poller.poll(0))


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]
    """An asyncpg connection the pool checks before handing it out again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parked = False  # given back to the pool and not checked since

    def is_closed(self) -> bool:
        # the pool asks this first when it takes the connection out for new work
        if super().is_closed():
            return True
        if self.parked:
            self.parked = False
            if spoke_unasked(self):
                self.terminate()
                return True
        return False


async def give_back(connection: Any) -> None:
    """The pool's reset: no query (a round trip after every commit); a connection
    whose session the server ended is refused, so the pool closes it."""
    if spoke_unasked(connection):
        raise asyncpg.InterfaceError("the server ended this session")
    if isinstance(connection, PooledConnection):
        connection.parked = True
