"""Helpers of the mail tests: a raw SMTP client, certificates, swaks, stored records."""

from __future__ import annotations

import asyncio
import re
import shutil
import smtplib
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import SecretStr

from core.records import Channel
from gateway.app import utc_now
from gateway.config.mail import ImapAccountConfig
from gateway.config.model import Secrets
from gateway.intake.imap import FolderWorker, SessionOpener, imap_settings
from gateway.intake.imap_lease import FolderLease
from gateway.intake.imap_session import ImapSession
from gateway.intake.mailintake import MailIntake
from storage import models
from tests.conftest import PG_ADMIN_URL, require
from tests.integration.daemon import RunningDaemon

HELPDESK = "helpdesk@example.org"
ALERTS = "alerts@example.org"
MAILBOXES = [
    {"name": "helpdesk", "address": HELPDESK, "service": "service-desk"},
    {"name": "alerts", "address": ALERTS, "type": "incident"},
]


def smtp_section(**overrides: Any) -> dict[str, Any]:
    return {"enabled": True, "listen": "127.0.0.1:0", "hostname": "mx.test", **overrides}


def smtp_port(daemon: RunningDaemon) -> int:
    listener = daemon.services.smtp
    assert listener is not None and listener.bound
    return int(listener.bound[0].rsplit(":", 1)[1])


def message(
    subject: str = "Printer on floor 3 is broken",
    *,
    message_id: str | None = "<m1@client.example>",
    sender: str = "alice@client.example",
    body: str = "It prints blank pages since this morning.",
    extra_headers: Sequence[str] = (),
) -> bytes:
    headers = [f"From: Alice <{sender}>", f"To: {HELPDESK}", f"Subject: {subject}"]
    headers.append("Date: Mon, 2 Mar 2026 09:00:00 +0000")
    if message_id is not None:
        headers.append(f"Message-ID: {message_id}")
    headers.extend(extra_headers)
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()


async def send_mail(daemon: RunningDaemon, sender: str, raw: bytes) -> None:
    """One message to the help desk through the daemon's SMTP listener."""

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", smtp_port(daemon), timeout=10) as client:
            client.sendmail(sender, [HELPDESK], raw)

    await asyncio.to_thread(send)


async def mail_records() -> list[models.IntakeRecordRow]:
    return await models.IntakeRecordRow.filter(
        channel__in=[Channel.SMTP.value, Channel.IMAP.value]
    ).order_by("id")


@dataclass
class Reply:
    code: int
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class RawSmtp:
    """An SMTP client that sends exactly the bytes it is given (for protocol edge cases)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1") -> tuple[RawSmtp, Reply]:
        reader, writer = await asyncio.open_connection(host, port)
        client = cls(reader, writer)
        return client, await client.reply()

    async def reply(self) -> Reply:
        lines: list[str] = []
        while True:
            raw = await asyncio.wait_for(self._reader.readline(), 10)
            if not raw:
                raise ConnectionError(f"connection closed after {lines!r}")
            line = raw.decode().rstrip("\r\n")
            lines.append(line[4:])
            if line[3:4] != "-":
                return Reply(int(line[:3]), lines)

    async def command(self, line: str) -> Reply:
        await self.send(f"{line}\r\n".encode())
        return await self.reply()

    async def send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def at_eof(self) -> bool:
        return await asyncio.wait_for(self._reader.read(1), 10) == b""

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except ConnectionError:
            return


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for localhost / 127.0.0.1 (made with openssl)."""
    openssl = shutil.which("openssl")
    require("openssl", openssl is not None)
    assert openssl is not None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


# swaks marks what the server said with '<-', '<~' inside TLS, '<**' for errors
_SERVER_LINE = re.compile(r"^<[-~*]+ +(.*)$")


@dataclass
class SwaksRun:
    returncode: int
    transcript: str

    def server_lines(self) -> list[str]:
        """What the server said, in order."""
        found = (_SERVER_LINE.match(line) for line in self.transcript.splitlines())
        return [match.group(1) for match in found if match]


def _swaks() -> str:
    found = shutil.which("swaks")
    require("swaks (Debian package swaks)", found is not None)
    assert found is not None
    return found


def require_swaks_tls() -> None:
    support = subprocess.run([_swaks(), "--support"], capture_output=True, timeout=30, text=True)
    require(
        "swaks with TLS (Debian package libnet-ssleay-perl)",
        "=== TLS supported" in support.stdout + support.stderr,
    )


async def swaks(port: int, *args: str) -> SwaksRun:
    """Run swaks against 127.0.0.1:port; ``args`` are swaks options."""
    found = _swaks()
    process = await asyncio.create_subprocess_exec(
        found,
        "--server",
        "127.0.0.1",
        "--port",
        str(port),
        "--timeout",
        "10",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return SwaksRun(process.returncode, output.decode(errors="replace"))


@asynccontextmanager
async def refusing_connections(database_url: str) -> AsyncIterator[None]:
    """While entered, the PostgreSQL database takes no connections and has none open."""
    database = database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database
        )
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()


@asynccontextmanager
async def running_worker(
    daemon: RunningDaemon,
    account: dict[str, Any],
    opener: SessionOpener = ImapSession.open,
    lease: FolderLease | None = None,
) -> AsyncIterator[FolderWorker]:
    """One IMAP folder worker (of the account's first folder) storing through the daemon."""
    config = ImapAccountConfig.model_validate(account)
    services = daemon.services
    secrets = Secrets({f"imap.{config.name}.password": SecretStr(str(account["password"]))})
    worker = FolderWorker(
        settings=imap_settings(config, config.folders[0], secrets),
        account=config,
        intake=MailIntake(
            writer=services.writer,
            handoff=services.pipeline.notify,
            metrics=services.metrics,
            clock=utc_now,
        ),
        metrics=services.metrics,
        open_session=opener,
        lease=lease,
    )
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        await worker.stop()
        await asyncio.wait_for(task, 10)
