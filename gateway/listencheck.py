"""Before anything else at start-up: can every listener have its address?

Checked before the database is opened (and its schema created or upgraded), so a
port already in use ends the start at once with one line naming the listener.
A socket is bound as the servers bind theirs (SO_REUSEADDR: a port left in
TIME_WAIT is free, one another process listens on is not) and closed again.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterable

from core.configbase import ListenAddress
from core.errors import ListenRefused


def check_listeners(listeners: Iterable[tuple[str, ListenAddress]]) -> None:
    """Raise ListenRefused for the first (name, address) that cannot be bound."""
    for name, address in listeners:
        try:
            infos = socket.getaddrinfo(
                address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
            for family, kind, proto, _, where in infos:
                with socket.socket(family, kind, proto) as probe:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    probe.bind(where)
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            if exc.errno == errno.EADDRINUSE:
                reason = "address already in use"
            raise ListenRefused(f"cannot listen for {name} on {address}: {reason}") from exc
