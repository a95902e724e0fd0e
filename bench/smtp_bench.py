"""SMTP intake with durable commit vs a bare aiosmtpd server that stores nothing.

Both run as their own processes on uvloop and are driven, in the same run, by
the same load generator: N clients, each on its own connection, each sending
4 KB messages one after another (MAIL, RCPT, DATA: one round trip each, as
smtplib and most MTAs do). The latency is the acknowledgement: from the
client's end-of-data dot to the server's 250, which on the gateway includes
the durable commit (SQLite WAL, synchronous=FULL, group commit). Two rows:
the whole daemon (its pipeline parses and correlates the same messages
meanwhile, in the same process) and the intake path alone (listener, handler,
group commit; no pipeline), each against the bare server.

Usage: python -m bench.smtp_bench [--total N] [--clients C] [--db URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import orjson

from bench.common import (
    PYTHON,
    Figure,
    Row,
    figure,
    free_port,
    median_figure,
    print_table,
    process,
)

RECIPIENT = "helpdesk@example.org"
MESSAGE_BYTES = 4096


def message(number: int) -> bytes:
    head = (
        f"From: Monitor <monitor@bench.example>\r\nTo: {RECIPIENT}\r\n"
        f"Subject: benchmark message {number}\r\n"
        f"Message-ID: <{number}.{time.time_ns()}@bench.example>\r\n"
        "Date: Mon, 2 Mar 2026 09:00:00 +0000\r\n\r\n"
    ).encode()
    line = b"The quick brown fox jumps over the lazy dog, again and again.\r\n"
    body = line * ((MESSAGE_BYTES - len(head)) // len(line) + 1)
    return (head + body)[: MESSAGE_BYTES - 2] + b"\r\n"


class Client:
    """A minimal SMTP client: one connection, one message at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        await client.expect(220)
        await client.command(b"EHLO bench.example\r\n", 250)
        return client

    async def expect(self, code: int) -> bytes:
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("server closed the connection")
            if line[3:4] != b"-":
                if int(line[:3]) != code:
                    raise RuntimeError(f"expected {code}, got {line!r}")
                return line

    async def command(self, line: bytes, code: int) -> bytes:
        self.writer.write(line)
        return await self.expect(code)

    async def send(self, data: bytes) -> float:
        """Send one message; the seconds from the end-of-data dot to the 250."""
        await self.command(b"MAIL FROM:<monitor@bench.example>\r\n", 250)
        await self.command(f"RCPT TO:<{RECIPIENT}>\r\n".encode(), 250)
        await self.command(b"DATA\r\n", 354)
        self.writer.write(data)
        started = time.perf_counter()
        await self.command(b".\r\n", 250)
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.command(b"QUIT\r\n", 221)
        self.writer.close()


async def smtp_load(port: int, total: int, clients: int) -> tuple[float, list[float], int]:
    """Send ``total`` messages over ``clients`` connections; (seconds, latencies, errors)."""
    numbers = iter(range(total))
    latencies: list[float] = []
    errors = 0
    bodies = [message(number) for number in range(total)]

    async def one_client() -> None:
        nonlocal errors
        client = await Client.connect(port)
        for number in numbers:
            try:
                latencies.append(await client.send(bodies[number]))
            except RuntimeError:
                errors += 1
                await client.command(b"RSET\r\n", 250)
        await client.close()

    began = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    return time.perf_counter() - began, latencies, errors


async def wait_smtp(port: int, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            client = await Client.connect(port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        await client.close()
        return
    raise RuntimeError(f"nothing answers SMTP on port {port}")


def gateway_config(directory: Path, port: int, db_url: str | None) -> Path:
    (directory / "rules").mkdir(exist_ok=True)
    document = {
        "storage": {"url": db_url or f"sqlite://{directory}/bench.sqlite3"},
        "http": {"listen": f"127.0.0.1:{free_port()}"},
        "smtp": {"enabled": True, "listen": f"127.0.0.1:{port}", "max_connections": 1000},
        "mailboxes": [{"name": "helpdesk", "address": RECIPIENT}],
        "rules": {"dir": str(directory / "rules"), "catalogue": None},
        "logging": {"level": "warning", "format": "json"},
    }
    path = directory / "gateway.yaml"
    path.write_bytes(orjson.dumps(document))
    return path


async def _measure_one(
    name: str, command: list[str], log: Path, port: int, total: int, clients: int
) -> Figure:
    with process(command, log) as proc:
        await wait_smtp(port)
        await smtp_load(port, min(total, 1000), clients)  # warm-up
        elapsed, latencies, errors = await smtp_load(port, total, clients)
        return figure(name, total, elapsed, latencies, errors, proc.pid)


async def measure(total: int, clients: int, db_url: str | None, rounds: int = 3) -> list[Row]:
    """The whole daemon, the intake path alone and the bare server, on the same load:
    each side once per round, in turn; the median round of each side is reported."""
    label = "PostgreSQL" if db_url else "SQLite FULL"
    sides: tuple[list[Figure], list[Figure], list[Figure]] = ([], [], [])
    with tempfile.TemporaryDirectory(prefix="intake-smtp-bench-") as raw:
        for number in range(rounds):
            directory = Path(raw) / f"round-{number}"
            directory.mkdir()
            for side, figures in zip(_sides(directory, db_url), sides, strict=True):
                figures.append(await _measure_one(*side, total, clients))
    daemon, intake_only, bare = (median_figure(figures) for figures in sides)
    target = ">= 1000 msg/s and >= 0.80 of bare"
    return [
        Row(f"SMTP 4 KB, {clients} clients, whole daemon ({label})", daemon, bare, "msg/s", target),
        Row(
            f"SMTP 4 KB, {clients} clients, intake only ({label})",
            intake_only,
            bare,
            "msg/s",
            target,
        ),
    ]


def _sides(directory: Path, db_url: str | None) -> list[tuple[str, list[str], Path, int]]:
    """(name, command, log, port) of the whole daemon, the intake path alone, the bare server."""
    port, intake_port, bare_port = free_port(), free_port(), free_port()
    config = gateway_config(directory, port, db_url)
    intake_db = db_url or f"sqlite://{directory}/intake-only.sqlite3"
    return [
        (
            "intake-gateway",
            [PYTHON, "-m", "gateway.cli", "run", "--config", str(config)],
            directory / "gateway.log",
            port,
        ),
        (
            "intake path only",
            [PYTHON, "-m", "bench.smtp_intake", str(intake_port), intake_db],
            directory / "intake.log",
            intake_port,
        ),
        (
            "bare aiosmtpd (stores nothing)",
            [PYTHON, "-m", "bench.bare_smtp", str(bare_port)],
            directory / "bare.log",
            bare_port,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=10_000)
    parser.add_argument("--clients", type=int, nargs="+", default=[16])
    parser.add_argument("--db", default=None, help="postgres:// URL; default SQLite")
    args = parser.parse_args()
    rows = [
        row
        for clients in args.clients
        for row in asyncio.run(measure(args.total, clients, args.db))
    ]
    print_table(rows, title="SMTP intake (msg/s)")


if __name__ == "__main__":
    main()
