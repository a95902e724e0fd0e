"""Consecutive writes sent as one statement on PostgreSQL.

Applying one decision writes several rows (the incident, the event, an
occurrence, timeline notes, outbox rows) and reads back at most an id. Each
statement is a round trip to the server, and round trips, not the server's
work, bound the pipeline on PostgreSQL. ``Batched`` holds the writes whose
results nobody reads and sends them together with the next statement as
data-modifying ``WITH`` parts (PostgreSQL runs every part, whether or not the
main statement refers to it).

Parts of one statement see the same snapshot and must not touch the same
row: a caller sends through one ``Batched`` only writes to distinct rows
(one decision's writes are: one incident, one event, new rows), and calls
``flush`` before anything reads rows it wrote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from storage.atomic import ImmediateSqlite, QueryRunner

_PARAMETER = re.compile(r"\$(\d+)")


def _shifted(statement: str, offset: int) -> str:
    """``$n`` markers moved by ``offset`` (statements here hold no ``$`` literals)."""
    if not offset:
        return statement
    return _PARAMETER.sub(lambda found: f"${int(found.group(1)) + offset}", statement)


class Batched:
    """A QueryRunner over a PostgreSQL transaction that sends writes together."""

    def __init__(self, connection: QueryRunner) -> None:
        self._connection = connection
        self._pending: list[tuple[str, list[Any]]] = []

    async def execute_query(
        self, query: str, values: list[Any] | None = None
    ) -> tuple[int, Sequence[dict[Any, Any]]]:
        """A write whose result nobody reads: held, and sent with the next statement."""
        self._pending.append((query, list(values or ())))
        return 0, []

    async def execute_query_dict(
        self, query: str, values: list[Any] | None = None
    ) -> list[dict[Any, Any]]:
        """A read: the held writes go first, on their own, so that it sees them."""
        await self.flush()
        return await self._connection.execute_query_dict(query, values)

    async def returning(self, query: str, values: list[Any]) -> list[dict[Any, Any]]:
        """A write of new rows that returns them, sent with the held writes ahead of it."""
        statement, combined = self._combined((query, values))
        return await self._connection.execute_query_dict(statement, combined)

    async def flush(self) -> None:
        if not self._pending:
            return
        *ahead, last = self._pending
        self._pending = ahead
        statement, combined = self._combined(last)
        await self._connection.execute_query(statement, combined)

    def _combined(self, main: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
        parts: list[str] = []
        values: list[Any] = []
        for index, (query, arguments) in enumerate(self._pending):
            parts.append(f"w{index} AS ({_shifted(query, len(values))})")
            values.extend(arguments)
        self._pending = []
        query, arguments = main
        statement = _shifted(query, len(values))
        values.extend(arguments)
        return (f"WITH {', '.join(parts)} {statement}" if parts else statement), values


async def write_returning(
    connection: QueryRunner, query: str, values: list[Any]
) -> list[dict[Any, Any]]:
    """Insert new rows and return them, sent with any writes a ``Batched`` holds."""
    if isinstance(connection, Batched):
        return await connection.returning(query, values)
    return await connection.execute_query_dict(query, values)


async def insert_id(connection: QueryRunner, query: str, values: list[Any]) -> int:
    """Insert one new row (``query`` without RETURNING) and return its id, as
    ``write_returning`` does.

    In a unit run in SQLite's thread the id is the connection's last rowid: SQLite
    spends up to 30 us more on an INSERT that returns the id (measured on the incident
    and occurrence rows, two of the three rows the pipeline may insert per event).
    """
    if isinstance(connection, ImmediateSqlite):
        return await connection.insert_id(query, values)
    rows = await write_returning(connection, f"{query} RETURNING id", values)
    return int(rows[0]["id"])
