"""Shared fixtures: databases (SQLite and the real PostgreSQL), configs, daemons."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from gateway.config.model import LoadedConfig, load_config
from storage.database import Database, DatabaseSettings
from storage.migrations import migrate

PG_ADMIN_URL = os.environ.get(
    "INTAKE_GATEWAY_TEST_PG", "postgres://postgres@127.0.0.1:5432/postgres"
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(component: str, available: bool, why: str = "") -> None:
    """Skip locally when a real component is missing; in CI that is a failure."""
    if available:
        return
    message = f"{component} is not available{': ' + why if why else ''}"
    if in_ci():
        pytest.fail(f"{message} (CI must have it)")
    pytest.skip(message)


async def _pg_admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        require("PostgreSQL", False, str(exc))
        raise


@asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    """A new PostgreSQL database for one test, dropped afterwards."""
    name = f"intake_test_{uuid.uuid4().hex[:12]}"
    admin = await _pg_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        admin = await _pg_admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Every storage test runs on both engines."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path}/gateway.sqlite3"
        return
    async with fresh_postgres() as url:
        yield url


@asynccontextmanager
async def opened_database(url: str, pool_size: int = 10) -> AsyncIterator[Database]:
    """A database at ``url`` opened with the newest schema, closed on leaving."""
    database = Database(DatabaseSettings(url=url, pool_size=pool_size))
    await database.open()
    await migrate(database)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """An open database with the newest schema, on each engine."""
    async with opened_database(database_url) as database:
        yield database


ConfigWriter = Callable[..., LoadedConfig]


@pytest.fixture
def write_config(tmp_path: Path) -> Iterator[ConfigWriter]:
    """Write a gateway.yaml from a dict (merged over test defaults) and load it."""

    def write(
        database_url: str | None = None, *, name: str = "gateway.yaml", **sections: Any
    ) -> LoadedConfig:
        document: dict[str, Any] = {
            "storage": {"url": database_url or f"sqlite://{tmp_path}/gateway.sqlite3"},
            "http": {"listen": "127.0.0.1:0"},
            "integrations": [{"name": "generic", "kind": "generic"}],
            "rules": {"dir": str(tmp_path / "rules"), "catalogue": None},
            "pipeline": {"recovery_interval_seconds": 0.2},
            "logging": {"level": "warning", "format": "json"},
        }
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(document.get(key), dict):
                document[key] = {**document[key], **value}
            else:
                document[key] = value
        (tmp_path / "rules").mkdir(exist_ok=True)
        path = tmp_path / name
        # JSON is YAML: no YAML writer needed for generated configs
        path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
        return load_config(path)

    yield write
