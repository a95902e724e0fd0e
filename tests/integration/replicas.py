"""Several daemon processes on one database, for fault tests that kill them.

Each replica is a real ``intake-gateway run`` process with its own config
and port. ``kill()`` is ``kill -9``: no drain, no cleanup, open transactions
are rolled back by PostgreSQL and leases are left to expire.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from tests.conftest import PG_ADMIN_URL
from tests.integration.daemon import wait_ready

CLI = [sys.executable, "-m", "gateway.cli"]
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(path: Path, document: dict[str, Any]) -> Path:
    """JSON is YAML: the generated config needs no YAML writer."""
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return path


@dataclass
class Replica:
    name: str
    config: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    terminating: bool = False  # a second SIGTERM would make it exit at once

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.alive:
            return
        with self.log.open("ab") as out:
            out.write(f"--- start {self.starts} at {time.time():.3f}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [*CLI, "run", "--config", str(self.config)], stdout=out, stderr=out, cwd=REPO
            )
        self.starts += 1
        self.terminating = False

    def kill(self) -> None:
        """kill -9, and reap the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.kills += 1

    def terminate(self) -> None:
        """SIGTERM, once: the daemon drains and exits."""
        if self.alive and not self.terminating and self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.terminating = True

    def stop(self, within: float = 15.0) -> int | None:
        """SIGTERM (once) and wait; kill -9 if it does not exit in time. The exit status."""
        process = self.process
        if process is None:
            return None
        self.terminate()
        try:
            return process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    async def ready(self, within: float = 30.0) -> None:
        assert self.process is not None, f"{self.name} was not started"
        await wait_ready(self.url, self.process, within, name=f"{self.name} (see {self.log})")

    def log_lines(self, level: str) -> list[str]:
        """Lines of the replica's JSON log at ``level`` (e.g. "error")."""
        found = []
        for line in self.log.read_bytes().splitlines():
            if not line.startswith(b"{"):
                continue
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if entry.get("level") == level:
                found.append(line.decode("utf-8", "replace"))
        return found


@dataclass
class ReplicaSet:
    members: list[Replica] = field(default_factory=list)

    def __iter__(self) -> Iterator[Replica]:
        return iter(self.members)

    def __getitem__(self, index: int) -> Replica:
        return self.members[index]

    def __len__(self) -> int:
        return len(self.members)

    async def ready(self) -> None:
        for member in self.members:
            await member.ready()

    def error_lines(self) -> list[str]:
        return [f"{m.name}: {line}" for m in self.members for line in m.log_lines("error")]


@contextmanager
def replica_set(directory: Path, count: int, document: dict[str, Any]) -> Iterator[ReplicaSet]:
    """``count`` replicas started on ``document`` (each with its own port); all are
    stopped (or killed) when the block ends."""
    members = []
    for index in range(count):
        port = free_port()
        name = f"replica-{index}"
        http = {**document.get("http", {}), "listen": f"127.0.0.1:{port}"}
        # a fixed name: a restarted replica knows the leases under it are its dead self's
        config = write_config(
            directory / f"{name}.yaml", {**document, "http": http, "instance": name}
        )
        members.append(Replica(name, config, port, directory / f"{name}.log"))
    replicas = ReplicaSet(members)
    try:
        for member in replicas:
            member.start()
        yield replicas
    finally:
        for member in replicas:  # all at once: each drains within its deadline
            member.terminate()
        for member in replicas:
            member.stop()


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


@asynccontextmanager
async def database_outage(url: str) -> AsyncIterator[None]:
    """The database goes away for the block: every session of it is terminated and
    new ones are refused. The server itself keeps running, so tests of other
    databases on it are not disturbed (a restart would disturb them)."""
    name = database_name(url)
    admin = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
