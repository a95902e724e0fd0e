"""A listener's port already in use: one line naming it, exit 2, database untouched."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import ConfigWriter

CLI = [sys.executable, "-m", "gateway.cli"]


@contextmanager
def _taken_port() -> Iterator[int]:
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        yield holder.getsockname()[1]
    finally:
        holder.close()


def _sqlite_files(tmp_path: Path) -> list[str]:
    return sorted(path.name for path in tmp_path.glob("gateway.sqlite3*"))


async def _tables(database_url: str, tmp_path: Path) -> list[str]:
    if database_url.startswith("sqlite://"):
        return _sqlite_files(tmp_path)
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await connection.close()
    return sorted(row["tablename"] for row in rows)


@pytest.mark.parametrize("listener", ["http", "smtp"])
async def test_port_in_use_is_one_line_and_exit_2_before_the_database(
    write_config: ConfigWriter, database_url: str, tmp_path: Path, listener: str
) -> None:
    with _taken_port() as port:
        sections: dict[str, object] = {}
        if listener == "smtp":
            sections["smtp"] = {"enabled": True, "listen": f"127.0.0.1:{port}"}
            sections["mailboxes"] = [{"name": "helpdesk", "address": "helpdesk@example.org"}]
        else:
            sections["http"] = {"listen": f"127.0.0.1:{port}"}
        loaded = write_config(database_url, **sections)
        result = subprocess.run(
            [*CLI, "run", "--config", str(loaded.path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"intake-gateway: cannot listen for {listener} on 127.0.0.1:{port}: address already in use"
    ]
    assert await _tables(database_url, tmp_path) == []
