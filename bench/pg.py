"""Scratch PostgreSQL databases for benchmarks: created fresh, dropped afterwards.

The server is ``$INTAKE_BENCH_PG`` (an admin URL; default the local server
as ``postgres``). A scenario that needs PostgreSQL asks ``available()``
first and reports why it did not run when the server is not there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

ADMIN_URL = os.environ.get("INTAKE_BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")


async def available() -> str | None:
    """None when the server answers; otherwise why not."""
    try:
        connection = await asyncpg.connect(ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at {ADMIN_URL.rsplit('@', 1)[-1]} does not answer: {exc}"
    await connection.close()
    return None


def url_of(name: str) -> str:
    return f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"


@asynccontextmanager
async def scratch_database(prefix: str = "intake_bench") -> AsyncIterator[str]:
    """A new, empty database; its URL. Dropped (connections and all) at the end."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield url_of(name)
    finally:
        admin = await asyncpg.connect(ADMIN_URL, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
