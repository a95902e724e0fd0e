"""A server that lies about a message's size cannot make the poller read the lie.

RFC822.SIZE says 100 bytes; the BODY[] literal then announces 5 GB. The
poller must refuse the literal before reading it, leave the message, and
not fetch it again after reconnecting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from tests.conftest import ConfigWriter
from tests.integration.daemon import eventually, running_daemon
from tests.integration.mail_support import MAILBOXES, mail_records, running_worker

ABSURD_LITERAL = 5 * 1024**3


@dataclass
class LyingServer:
    """Just enough IMAP4rev1 for the poller: one unseen message with a lying size."""

    commands: list[str] = field(default_factory=list)
    port: int = 0

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY IMAP4rev1] liar ready\r\n")
        while line := await reader.readline():
            tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
            command = rest.upper()
            self.commands.append(command)
            if command.startswith("CAPABILITY"):
                writer.write(b"* CAPABILITY IMAP4rev1\r\n")
            elif command.startswith("SELECT"):
                writer.write(b"* 1 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 2] ok\r\n")
            elif command.startswith("UID SEARCH"):
                writer.write(b"* SEARCH 1\r\n")
            elif command.startswith("UID FETCH") and "RFC822.SIZE" in command:
                writer.write(b"* 1 FETCH (UID 1 RFC822.SIZE 100)\r\n")
            elif command.startswith("UID FETCH"):
                writer.write(b"* 1 FETCH (UID 1 BODY[] {%d}\r\nFrom: a\r\n" % ABSURD_LITERAL)
                await writer.drain()
                continue  # never completes: the client must give up on its own
            elif command.startswith("LOGOUT"):
                writer.write(b"* BYE\r\n" + tag.encode() + b" OK bye\r\n")
                await writer.drain()
                break
            writer.write(tag.encode() + b" OK done\r\n")
            await writer.drain()
        writer.close()

    def body_fetches(self) -> int:
        return sum(1 for c in self.commands if c.startswith("UID FETCH") and "BODY" in c)


@asynccontextmanager
async def lying_server() -> AsyncIterator[LyingServer]:
    liar = LyingServer()
    server = await asyncio.start_server(liar.session, "127.0.0.1", 0)
    liar.port = server.sockets[0].getsockname()[1]
    try:
        yield liar
    finally:
        server.close()


async def test_absurd_literal_is_refused_before_it_is_read(write_config: ConfigWriter) -> None:
    async with lying_server() as liar, running_daemon(write_config(mailboxes=MAILBOXES)) as daemon:
        account = {
            "name": "liar",
            "mailbox": "helpdesk",
            "host": "127.0.0.1",
            "port": liar.port,
            "security": "none",
            "username": "u",
            "password": "p",
            "idle": False,
            "poll_interval_seconds": 1,
            "reconnect_max_seconds": 1,
            "max_message_bytes": 1024 * 1024,
        }
        async with running_worker(daemon, account):
            # it reconnects and searches again, but never asks for that body again
            await eventually(
                lambda: asyncio.sleep(0, liar.commands.count("UID SEARCH NOT DELETED UNSEEN")),
                lambda searches: searches >= 2,
            )
        assert liar.body_fetches() == 1
        assert await mail_records() == []
        metrics = (await (await daemon.http.get("/metrics")).text()).splitlines()
        assert 'intake_gateway_mail_messages_total{channel="imap",outcome="too_large"} 1.0' in (
            metrics
        )
        assert any(
            line.startswith('intake_gateway_imap_errors_total{account="liar",stage="fetch"}')
            for line in metrics
        )
