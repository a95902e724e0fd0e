"""Helpers of the poison-input tests: raw SMTP and HTTP senders, database refusals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from storage.database import Dialect
from tests.integration.daemon import RunningDaemon
from tests.integration.mail_support import HELPDESK, RawSmtp, Reply


async def raw_mail(port: int, *, helo: bytes, mail_from: bytes, data: bytes) -> Reply:
    """One message, sent with exactly these bytes; the answer to its end of DATA."""
    client, _ = await RawSmtp.connect(port)
    try:
        for line in (b"EHLO " + helo, b"MAIL FROM:<" + mail_from + b">"):
            await client.send(line + b"\r\n")
            reply = await client.reply()
            assert reply.code == 250, reply
        assert (await client.command(f"RCPT TO:<{HELPDESK}>")).code == 250
        assert (await client.command("DATA")).code == 354
        await client.send(data.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
        return await client.reply()
    finally:
        await client.close()


async def raw_post(
    daemon: RunningDaemon, path: str, body: bytes, headers: bytes = b""
) -> tuple[int, dict[str, Any]]:
    """One POST whose header lines are sent as these bytes (aiohttp's client refuses
    what is not ASCII); its status and JSON answer."""
    host, port = daemon.base_url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n".encode()
            + headers
            + b"\r\n"
            + body
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), orjson.loads(payload)


def mail(subject: str, message_id: str, body: bytes = b"It is broken.") -> bytes:
    return (
        f"From: Alice <alice@client.example>\r\nTo: {HELPDESK}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{message_id}>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\n\r\n"
    ).encode() + body


def _refusal(table: str, column: str, marker: bytes, dialect: Dialect) -> str:
    """A trigger by which the database refuses rows of ``table`` whose ``column``
    holds ``marker``, as PostgreSQL refuses a NUL in text (a data exception)."""
    name = f"refuse_marked_{table}"
    if dialect is Dialect.SQLITE:
        needle = f"X'{marker.hex()}'" if column == "body" else f"'{marker.decode()}'"
        return (
            f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
            f"WHEN instr(NEW.{column}, {needle}) > 0 "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
        )
    needle = f"'\\x{marker.hex()}'::bytea" if column == "body" else f"'{marker.decode()}'"
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF position({needle} in NEW.{column}) > 0 THEN "
        "RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'data_exception'; "
        "END IF; RETURN NEW; END $$; "
        f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {name}();"
    )


@asynccontextmanager
async def refusing(
    daemon: RunningDaemon, table: str, column: str, marker: bytes
) -> AsyncIterator[None]:
    """While entered, the daemon's database refuses rows holding ``marker``."""
    db = daemon.services.db
    await db.connection.execute_script(_refusal(table, column, marker, db.dialect))
    try:
        yield
    finally:
        await db.connection.execute_script(
            f"DROP TRIGGER refuse_marked_{table}"
            + (f" ON {table}" if db.dialect is Dialect.POSTGRES else "")
        )


async def metric(daemon: RunningDaemon, name: str, **labels: str) -> float:
    """The value of one sample on /metrics (0 when absent)."""
    async with daemon.http.get("/metrics") as response:
        text = await response.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


class DatabaseUpWatch:
    """Samples ``database_up`` while entered: the lowest value seen."""

    def __init__(self, daemon: RunningDaemon) -> None:
        self._daemon = daemon
        self.lowest = 1.0
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> DatabaseUpWatch:
        # the gauge starts at 0; a readiness check sets it from a real ping
        async with self._daemon.http.get("/readyz") as response:
            assert response.status == 200, await response.text()
        self._task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task

    async def _watch(self) -> None:
        while True:
            value = await metric(self._daemon, "intake_gateway_database_up")
            self.lowest = min(self.lowest, value)
            self.samples += 1
            await asyncio.sleep(0.05)


def deadline(seconds: float) -> float:
    return time.monotonic() + seconds
