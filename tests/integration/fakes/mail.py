"""Mail servers for the email sink: a capturing aiosmtpd receiver and Postfix's smtp-sink
(with its fault flags) as a real SMTP server."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

from tests.conftest import require


class Capture:
    """aiosmtpd handler keeping every message, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 queued"


@asynccontextmanager
async def capturing_smtp() -> AsyncIterator[tuple[Capture, int]]:
    capture = Capture()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(capture), "127.0.0.1", 0)
    try:
        yield capture, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def smtp_sink(dump_dir: Path, flags: Sequence[str] = ()) -> AsyncIterator[int]:
    """Postfix's smtp-sink on a free port; messages dumped under ``dump_dir``."""
    binary = shutil.which("smtp-sink", path="/usr/sbin:/usr/bin:/usr/local/sbin")
    require("smtp-sink", binary is not None, "install postfix")
    assert binary is not None
    port = _free_port()
    dump = str(dump_dir / "%H%M%S.")
    process = await asyncio.create_subprocess_exec(
        binary,
        "-u",
        "root",
        "-d",
        dump,
        *flags,
        f"127.0.0.1:{port}",
        "100",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                if time.monotonic() > deadline or process.returncode is not None:
                    raise AssertionError("smtp-sink did not start") from None
                await asyncio.sleep(0.02)
        yield port
    finally:
        process.terminate()
        await process.wait()


def dumped(dump_dir: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted(dump_dir.iterdir()) if path.is_file()]
