"""One unit of work in one transaction, the fastest way each engine allows.

The pipeline evaluates and writes a batch of events with a few short
statements per event. Through aiosqlite every statement is a round trip to
the connection's thread; on SQLite ``run_atomic`` therefore runs the whole
unit inside that thread instead, against the plain ``sqlite3`` connection,
with one hop in and one out. The unit is written once, as a coroutine
against the :class:`QueryRunner` protocol; on SQLite the runner answers at
once, so the coroutine never suspends and is driven to completion in the
thread. On PostgreSQL the same coroutine runs on the event loop in an
ordinary transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from core.errors import DataRejected, GatewayError, StorageUnavailable, WriteConflict
from storage.database import DATABASE_ERRORS, Database, Dialect, refused_values

T = TypeVar("T")

# what binding a value raises before SQLite sees it: text that is not UTF-8, a huge int
_REFUSED = (UnicodeEncodeError, OverflowError)
_NORMAL = 1  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def _fault(error: BaseException, what: str) -> GatewayError:
    """DataRejected when the values were refused (they fail again; others go
    through), StorageUnavailable otherwise."""
    if refused_values(error):
        return DataRejected(f"{what}: the database refused the values: {error}")
    return StorageUnavailable(f"{what} failed: {error}")


class QueryRunner(Protocol):
    """The two calls storage's hot paths make; tortoise's clients satisfy it."""

    async def execute_query(
        self, query: str, values: list[Any] | None = None
    ) -> tuple[int, Sequence[dict[Any, Any]]]: ...

    async def execute_query_dict(
        self, query: str, values: list[Any] | None = None
    ) -> list[dict[Any, Any]]: ...


class ImmediateSqlite:
    """A QueryRunner over a plain sqlite3 connection, used inside its own thread."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    async def execute_query(
        self, query: str, values: list[Any] | None = None
    ) -> tuple[int, Sequence[dict[Any, Any]]]:
        cursor = self._connection.execute(query, values or [])
        try:
            rows = [dict(row) for row in cursor.fetchall()]
            return cursor.rowcount, rows
        finally:
            cursor.close()

    async def execute_query_dict(
        self, query: str, values: list[Any] | None = None
    ) -> list[dict[Any, Any]]:
        return list((await self.execute_query(query, values))[1])

    async def insert_id(self, query: str, values: list[Any]) -> int:
        """An INSERT of one row (without RETURNING); the row's id."""
        cursor = self._connection.execute(query, values)
        try:
            return int(cursor.lastrowid or 0)
        finally:
            cursor.close()


def _drive(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (every await answers at once)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise RuntimeError("a unit of work run in the SQLite thread tried to suspend")


def _in_sqlite_transaction(
    unit: Callable[[QueryRunner], Coroutine[Any, Any, T]],
    connection: sqlite3.Connection,
    derived: bool,
) -> T:
    # synchronous can only change outside a transaction; the connection's own
    # setting (re-read, so a configured NORMAL or OFF is honoured) comes back after
    if not derived:
        return _transaction(unit, connection)
    mode = int(connection.execute("PRAGMA synchronous").fetchone()[0])
    if mode <= _NORMAL:
        return _transaction(unit, connection)
    connection.execute(f"PRAGMA synchronous = {_NORMAL}")
    try:
        return _transaction(unit, connection)
    finally:
        connection.execute(f"PRAGMA synchronous = {mode}")


def _transaction(
    unit: Callable[[QueryRunner], Coroutine[Any, Any, T]], connection: sqlite3.Connection
) -> T:
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = _drive(unit(ImmediateSqlite(connection)))
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return result


async def run_atomic(
    db: Database,
    unit: Callable[[QueryRunner], Coroutine[Any, Any, T]],
    *,
    derived: bool = False,
) -> T:
    """Run ``unit`` in one transaction. Raises WriteConflict or StorageUnavailable.

    On SQLite the unit holds the connection (and mostly the GIL) until it
    ends, as any transaction on the one connection would: callers keep units
    short while others wait for the connection.

    ``derived=True`` says the unit only writes what can be derived again from
    rows already committed (the pipeline: its records stay pending until the
    unit that applies them commits). On SQLite its COMMIT then skips the
    fsync (WAL with synchronous=NORMAL): a crash of the process loses nothing,
    a power failure can lose such a transaction but never a part of one, and
    the next durable commit (an intake record, an outbox claim before a
    send) makes it durable with itself, as the WAL is written in order.
    """
    if db.dialect is Dialect.POSTGRES:
        async with db.transaction() as connection:
            return await unit(connection)
    client = db.connection
    try:
        async with client.acquire_connection() as handle:  # holds the client's lock
            run: Callable[..., Awaitable[T]] = handle._execute  # the connection's thread
            return await run(_in_sqlite_transaction, unit, handle._conn, derived)
    except sqlite3.IntegrityError as exc:
        raise WriteConflict(str(exc)) from exc
    except (sqlite3.DatabaseError, *_REFUSED) as exc:
        # locked, I/O error, disk full, corrupt file; or values SQLite refuses
        raise _fault(exc, "database write") from exc


def _statement_rows(
    connection: sqlite3.Connection, statement: str, values: list[Any]
) -> list[dict[Any, Any]]:
    cursor = connection.execute(statement, values)
    try:
        return [dict(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


async def write_statement(
    db: Database, statement: str, values: list[Any], what: str
) -> list[dict[Any, Any]]:
    """One writing statement, atomic and durable on its own; its rows.

    A single statement needs no BEGIN and COMMIT around it: both engines run
    it as its own transaction, committed (on SQLite fsynced, as configured)
    before it returns. That saves two round trips to PostgreSQL, and on
    SQLite two returns to the connection's thread, each of which waits for
    the event loop to let go of the GIL. Values the database refuses are
    DataRejected; every other fault, a uniqueness conflict included, is
    StorageUnavailable naming ``what``: callers of a single statement have
    nothing to retry against.
    """
    try:
        if db.dialect is Dialect.POSTGRES:
            return await db.connection.execute_query_dict(statement, values)
        async with db.connection.acquire_connection() as handle:  # holds the client's lock
            run: Callable[..., Awaitable[list[dict[Any, Any]]]] = handle._execute
            return await run(_statement_rows, handle._conn, statement, values)
    except (*DATABASE_ERRORS, sqlite3.DatabaseError, *_REFUSED) as exc:  # type: ignore[misc]
        raise _fault(exc, what) from exc


@dataclass(frozen=True, slots=True)
class Inserted:
    """What one INSERT into an AUTOINCREMENT table did: its rows have ids above ``floor``."""

    floor: int  # the highest id the table had ever given before the statement
    count: int  # rows inserted
    last: int  # id of the last row inserted
    seconds: float = 0.0  # how long the statement held the connection


def _insert_rows(
    connection: sqlite3.Connection, table: str, statement: str, values: list[Any]
) -> Inserted:
    started = time.perf_counter()
    row = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [table]).fetchone()
    cursor = connection.execute(statement, values)
    try:
        held = time.perf_counter() - started
        return Inserted(int(row[0]) if row else 0, cursor.rowcount, cursor.lastrowid or 0, held)
    finally:
        cursor.close()


async def insert_sqlite(
    db: Database, table: str, statement: str, values: list[Any], what: str
) -> Inserted:
    """One multi-row INSERT into ``table`` on SQLite, atomic and durable on its own.

    Without RETURNING the statement runs in one step, and each step is a
    return to the connection's thread that must take the GIL back from a busy
    event loop (RETURNING makes a step per row). The caller learns which ids
    are new from ``Inserted``: the client's lock keeps every other statement
    of this process out between reading the table's id high-water mark and
    the insert, and the file lock keeps other processes out. Faults are
    DataRejected (refused values) or StorageUnavailable, naming ``what``.
    """
    try:
        async with db.connection.acquire_connection() as handle:  # holds the client's lock
            run: Callable[..., Awaitable[Inserted]] = handle._execute
            return await run(_insert_rows, handle._conn, table, statement, values)
    except (sqlite3.DatabaseError, *_REFUSED) as exc:
        raise _fault(exc, what) from exc
