"""Opening, checking and closing the database (SQLite embedded, or PostgreSQL)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import structlog
from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.connection import get_connections
from tortoise.exceptions import BaseORMException, IntegrityError
from tortoise.transactions import in_transaction

from core.errors import DataRejected, StorageUnavailable, WriteConflict
from storage.pgpool import PooledConnection, give_back
from storage.sqlite_lock import SqliteLock
from storage.sqlite_probe import busy_ms, sqlite_writable

log = structlog.get_logger(__name__)

MODELS_MODULE = "storage.models"
_WAL_SIZE_LIMIT = 64 * 1024 * 1024

# The connection type other packages may name, so only storage imports tortoise.
Connection = BaseDBAsyncClient

# What a lost or refused database connection raises, through tortoise or below it.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (BaseORMException, OSError, asyncio.TimeoutError)
# What says the session was gone before the statement reached it (or with it): a read
# is tried once more, on another connection.
_SESSION_ENDED: tuple[type[BaseException], ...] = ()
# What says "try again": a uniqueness rule said no, or PostgreSQL ended this
# transaction for a concurrent one's sake.
_CONFLICTS: tuple[type[BaseException], ...] = (IntegrityError,)
# What says "not these values": the database (or the driver, encoding them) refused
# what a statement carried, e.g. NUL in text, a value too long, a constraint; the
# same values fail again, other statements go through. SQLite: too big, a
# constraint or a trigger's ABORT, text that is not UTF-8, an integer past 64 bits.
_REFUSED_VALUES: tuple[type[BaseException], ...] = (
    sqlite3.DataError,
    sqlite3.IntegrityError,
    UnicodeEncodeError,
    OverflowError,
)
_UNIQUE: tuple[type[BaseException], ...] = ()
_SQLITE_UNIQUE = (sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
try:  # asyncpg is only imported when PostgreSQL is used
    import asyncpg

    DATABASE_ERRORS = (
        *DATABASE_ERRORS,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,  # a connection terminated mid-operation
    )
    _SESSION_ENDED = (
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        asyncpg.PostgresConnectionError,
        asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash shutdown
    )
    # deadlock_detected (40P01), serialization_failure (40001)
    _CONFLICTS = (IntegrityError, asyncpg.exceptions.TransactionRollbackError)
    # data exceptions (class 22, asyncpg's own encoding failures included),
    # integrity (23) and program limits (54, e.g. a row too big for its index)
    _REFUSED_VALUES = (
        *_REFUSED_VALUES,
        asyncpg.exceptions.DataError,
        asyncpg.exceptions.IntegrityConstraintViolationError,
        asyncpg.exceptions.ProgramLimitExceededError,
    )
    _UNIQUE = (asyncpg.exceptions.UniqueViolationError,)
except ImportError:  # pragma: no cover
    pass


# A restart, failover or pg_terminate_backend ends every pooled session at once, and
# a read may draw each of them in turn before the pool opens a new one; a session
# found ended fails before anything is sent, so trying again is safe and costs no
# round trip. The bound is the pool's size plus one, set when the database opens.
_read_attempts = 3
P = ParamSpec("P")
R = TypeVar("R")


def reads_database(what: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Mark a read outside ``Database.transaction``: tried once more when the server
    had ended its session (the pool drops that connection); its database faults
    surface as StorageUnavailable naming ``what``, which the edges answer with 503."""

    def decorate(read: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(read)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                for _ in range(_read_attempts - 1):
                    with suppress(*_SESSION_ENDED):
                        return await read(*args, **kwargs)
                return await read(*args, **kwargs)
            except DATABASE_ERRORS as exc:
                raise StorageUnavailable(f"{what} failed: {exc}") from exc

        return guarded

    return decorate


def refused_values(error: BaseException) -> bool:
    """Whether ``error`` (or what tortoise wrapped in it) is the database refusing the
    values of a statement, as opposed to being unavailable."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, _UNIQUE):  # a conflict with another row, not these values
            return False
        if isinstance(seen, sqlite3.IntegrityError):
            return getattr(seen, "sqlite_errorcode", None) not in _SQLITE_UNIQUE
        if isinstance(seen, _REFUSED_VALUES):
            return True
        seen = seen.__cause__
    return False


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgres"


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str
    sqlite_synchronous: str = "full"
    pool_size: int = 10
    connect_timeout_seconds: float = 5.0
    # False for tools that read a database a running daemon owns (replay)
    exclusive: bool = True


def dialect_of(url: str) -> Dialect:
    return Dialect.SQLITE if url.startswith("sqlite://") else Dialect.POSTGRES


def sqlite_path(url: str) -> Path:
    """``sqlite://./data/x.sqlite3`` and ``sqlite:///abs/x.sqlite3`` -> a path."""
    return Path(url.removeprefix("sqlite://").split("?", 1)[0])


def _connection_config(settings: DatabaseSettings) -> dict[str, Any]:
    if dialect_of(settings.url) is Dialect.SQLITE:
        return {
            "engine": "tortoise.backends.sqlite",
            "credentials": {
                "file_path": str(sqlite_path(settings.url)),
                "journal_mode": "WAL",
                # FULL: the WAL is fsynced at every commit, so an acknowledged
                # intake survives power loss, not only a process crash.
                "synchronous": settings.sqlite_synchronous.upper(),
                "busy_timeout": busy_ms(exclusive=settings.exclusive),  # see sqlite_probe
                "foreign_keys": "ON",
                # keep the WAL file allocated after a checkpoint (the default cuts it to
                # 16 KiB, and every commit after that grows the file: a dearer fsync)
                "journal_size_limit": _WAL_SIZE_LIMIT,
            },
        }
    parts = urlsplit(settings.url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return {
        "engine": "tortoise.backends.asyncpg",
        "credentials": {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "user": unquote(parts.username or "postgres"),
            "password": unquote(parts.password or ""),
            "database": parts.path.lstrip("/") or "postgres",
            "minsize": 1,
            "maxsize": settings.pool_size,
            "timeout": settings.connect_timeout_seconds,
            "command_timeout": float(query.get("command_timeout", 30)),
            "server_settings": {"application_name": "intake-gateway"},
            # Given back without asyncpg's reset query, a round trip on every release
            # (after every intake commit, for one). Nothing here outlives a transaction:
            # advisory locks are transaction-scoped, and nothing is set, listened to or
            # declared for a session; an open transaction the pool still rolls back.
            # A session the server ended is dropped on the way in and out (pgpool).
            "reset": give_back,
            "connection_class": PooledConnection,
        },
    }


class Database:
    """The open database: its dialect, its connection, and health checks."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        self.dialect = dialect_of(settings.url)
        self._lock: SqliteLock | None = None
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    async def open(self) -> None:
        if self.dialect is Dialect.SQLITE:
            path = sqlite_path(self.settings.url)
            path.parent.mkdir(parents=True, exist_ok=True)
            if self.settings.exclusive:
                self._lock = SqliteLock(path)
                self._lock.acquire()
        # tortoise caches prepared INSERT/UPDATE text per connection name, not
        # per engine: a process that opens SQLite and later PostgreSQL (tests,
        # tools) would reuse '?' placeholders on PostgreSQL.
        EXECUTOR_CACHE.clear()
        global _read_attempts
        _read_attempts = max(3, self.settings.pool_size + 1)
        try:
            await Tortoise.init(
                config={
                    "connections": {"default": _connection_config(self.settings)},
                    "apps": {"gateway": {"models": [MODELS_MODULE]}},
                    "use_tz": True,
                    "timezone": "UTC",
                },
                _enable_global_fallback=True,
            )
            await self.ping()
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        self._open = True

    async def close(self) -> None:
        self._open = False
        await Tortoise.close_connections()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    @property
    def shares_connection(self) -> bool:
        """Whether every writer takes turns on one connection (SQLite): a long
        transaction then delays intake's commits, and with them acknowledgements."""
        return self.dialect is Dialect.SQLITE

    @property
    def connection(self) -> BaseDBAsyncClient:
        return Tortoise.get_connection("default")

    def placeholder(self, index: int) -> str:
        """The bind-parameter marker for the ``index``-th (1-based) value."""
        return "?" if self.dialect is Dialect.SQLITE else f"${index}"

    def placeholders(self, count: int, start: int = 1) -> str:
        return ", ".join(self.placeholder(start + offset) for offset in range(count))

    async def ping(self, limit_seconds: float | None = None, *, write: bool = False) -> None:
        """Raise StorageUnavailable unless a trivial query answers in time; ``write``:
        unless a write could begin (on SQLite, another process may hold the file's write
        lock while reads still go through; on PostgreSQL a session that answers can write)."""
        limit = limit_seconds or self.settings.connect_timeout_seconds
        probe = self._select_one
        if write and self.dialect is Dialect.SQLITE:
            probe = self._begin_write
        try:
            await asyncio.wait_for(probe(), limit)
        except TimeoutError as exc:
            raise StorageUnavailable(f"database does not answer within {limit:g} s") from exc

    async def _begin_write(self) -> None:
        await sqlite_writable(self.connection, busy_ms(exclusive=self.settings.exclusive))

    @reads_database("database check")
    async def _select_one(self) -> None:
        await self.connection.execute_query("SELECT 1")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[BaseDBAsyncClient]:
        """One transaction; database faults surface as StorageUnavailable."""
        outside = get_connections().get("default")
        try:
            async with self._transaction() as connection:
                yield connection
        finally:
            # tortoise gives the connection back to the pool before it resets the
            # task's connection; when giving back fails (the server dropped it), the
            # task would keep the dead transaction as its connection for good
            if get_connections().get("default") is not outside:
                get_connections().set("default", outside)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[BaseDBAsyncClient]:
        context = in_transaction("default")
        try:
            connection = await context.__aenter__()
        except BaseException as exc:
            await _abandon(context)
            if isinstance(exc, DATABASE_ERRORS):
                raise StorageUnavailable(f"cannot begin a transaction: {exc}") from exc
            raise
        try:
            yield connection
        except BaseException as exc:
            try:
                await context.__aexit__(type(exc), exc, exc.__traceback__)
            except DATABASE_ERRORS as cleanup:
                log.debug("rollback_failed", error=str(cleanup))
            if isinstance(exc, _CONFLICTS):
                # a uniqueness rule said no, or PostgreSQL gave up on this transaction
                # for another's sake (deadlock, serialization): another writer got there first
                raise WriteConflict(str(exc)) from exc
            if refused_values(exc):
                raise DataRejected(f"database refused the values: {exc}") from exc
            if isinstance(exc, DATABASE_ERRORS):
                raise StorageUnavailable(f"database write failed: {exc}") from exc
            raise
        try:
            await context.__aexit__(None, None, None)
        except _CONFLICTS as exc:
            raise WriteConflict(str(exc)) from exc
        except DATABASE_ERRORS as exc:
            raise StorageUnavailable(f"commit failed: {exc}") from exc


async def _abandon(context: Any) -> None:
    """Undo a transaction that failed to begin.

    tortoise sets the task's connection to the transaction and takes a pooled
    connection (or the SQLite lock) before BEGIN, and undoes neither when
    BEGIN fails, e.g. on a connection PostgreSQL terminated. Left alone, every
    later transaction of this task would reuse the dead connection.
    """
    token = getattr(context, "token", None)
    if token is not None:
        with suppress(ValueError, RuntimeError):
            get_connections().reset(token)
    client = getattr(context, "client", None)  # the pooled (PostgreSQL) context
    pool = getattr(getattr(client, "_parent", None), "_pool", None)
    held = getattr(client, "_connection", None)
    if pool is not None and held is not None:
        with suppress(*DATABASE_ERRORS):
            await pool.release(held)
    lock = getattr(context, "_trxlock", None)  # the SQLite context
    if lock is not None and token is not None and lock.locked():
        lock.release()


@asynccontextmanager
async def reading(url: str, connect_timeout_seconds: float) -> AsyncIterator[Database]:
    """The daemon's database opened by a tool beside it (a report, a check): not the
    exclusive lock a daemon takes on a SQLite file."""
    db = Database(
        DatabaseSettings(url=url, exclusive=False, connect_timeout_seconds=connect_timeout_seconds)
    )
    await db.open()
    try:
        yield db
    finally:
        await db.close()
