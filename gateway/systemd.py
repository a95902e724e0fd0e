"""sd_notify(3) over $NOTIFY_SOCKET: READY=1, WATCHDOG=1, STOPPING=1. A no-op outside systemd."""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        # a leading '@' names a socket in the abstract namespace
        self._address = "\0" + address[1:] if address.startswith("@") else address
        watchdog_usec = os.environ.get("WATCHDOG_USEC", "")
        self.watchdog_seconds = int(watchdog_usec) / 1_000_000 if watchdog_usec.isdigit() else 0.0

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def send(self, state: str) -> None:
        if not self._address:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            try:
                sock.connect(self._address)
                sock.sendall(state.encode())
            except OSError:
                # systemd gone or socket not ours: notification is best-effort
                return

    def ready(self) -> None:
        self.send(f"READY=1\nSTATUS=accepting intake\nMAINPID={os.getpid()}")

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1\nSTATUS=draining")

    def reloading(self) -> None:
        self.send("RELOADING=1")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")
