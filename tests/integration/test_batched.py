"""Writes held and sent together on PostgreSQL: every one lands, in one round trip
with the next statement, and a read sees them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from storage.batched import Batched, write_returning
from storage.database import Database, DatabaseSettings


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[Database]:
    db = Database(DatabaseSettings(url=postgres_url))
    await db.open()
    await db.connection.execute_script(
        "CREATE TABLE a (id BIGSERIAL PRIMARY KEY, n INT, note TEXT);"
        "CREATE TABLE b (id BIGSERIAL PRIMARY KEY, n INT UNIQUE, doc JSONB)"
    )
    try:
        yield db
    finally:
        await db.close()


class _Counting:
    """A runner that counts the statements reaching the server."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.statements: list[str] = []

    async def execute_query(self, query: str, values: list[Any] | None = None) -> Any:
        self.statements.append(query)
        return await self.inner.execute_query(query, values)

    async def execute_query_dict(self, query: str, values: list[Any] | None = None) -> Any:
        self.statements.append(query)
        return await self.inner.execute_query_dict(query, values)


async def test_held_writes_go_with_the_next_insert_and_a_read_sees_them(pg: Database) -> None:
    async with pg.transaction() as connection:
        counting = _Counting(connection)
        batched = Batched(counting)
        await batched.execute_query("INSERT INTO a (n, note) VALUES ($1, $2)", [1, "one"])
        await batched.execute_query(
            "INSERT INTO b (n, doc) VALUES ($1, $2::jsonb)", [7, '{"k": "$1"}']
        )
        rows = await write_returning(
            batched, "INSERT INTO a (n, note) VALUES ($1, $2) RETURNING id, n", [2, "two"]
        )
        assert [row["n"] for row in rows] == [2]
        assert len(counting.statements) == 1  # three writes, one round trip
        await batched.execute_query("UPDATE a SET note = $1 WHERE n = $2", ["uno", 1])
        found = await batched.execute_query_dict("SELECT n, note FROM a ORDER BY n", [])
        assert [(row["n"], row["note"]) for row in found] == [(1, "uno"), (2, "two")]
        assert len(counting.statements) == 3  # the held update, then the read
        await batched.execute_query("UPDATE b SET n = $1 WHERE n = $2", [8, 7])
        await batched.flush()
        await batched.flush()  # nothing held: nothing sent
        assert len(counting.statements) == 4
    doc = await pg.connection.execute_query_dict("SELECT n, doc FROM b", [])
    assert doc[0]["n"] == 8 and '"$1"' in doc[0]["doc"]  # a literal, not a parameter


async def test_a_failing_held_write_fails_the_statement_it_goes_with(pg: Database) -> None:
    from core.errors import WriteConflict

    await pg.connection.execute_query("INSERT INTO b (n) VALUES (1)")
    with pytest.raises(WriteConflict):
        async with pg.transaction() as connection:
            batched = Batched(connection)
            await batched.execute_query("INSERT INTO a (n) VALUES ($1)", [5])
            await batched.execute_query("INSERT INTO b (n) VALUES ($1)", [1])  # taken
            await write_returning(batched, "INSERT INTO a (n) VALUES ($1) RETURNING id", [6])
    rows = await pg.connection.execute_query_dict("SELECT n FROM a", [])
    assert rows == []  # nothing of the transaction stayed


async def test_a_deadlock_is_a_write_conflict_to_retry(pg: Database) -> None:
    """PostgreSQL ends one of two transactions that wait for each other: that one must
    read as a conflict to retry, not as the database being down."""
    import asyncio

    from core.errors import WriteConflict

    await pg.connection.execute_query("INSERT INTO a (id, n) VALUES (1, 0), (2, 0)")
    both_locked = asyncio.Barrier(2)

    async def lock_in_order(first: int, second: int) -> None:
        async with pg.transaction() as connection:
            await connection.execute_query("UPDATE a SET n = n + 1 WHERE id = $1", [first])
            await both_locked.wait()
            await connection.execute_query("UPDATE a SET n = n + 1 WHERE id = $1", [second])

    results = await asyncio.gather(lock_in_order(1, 2), lock_in_order(2, 1), return_exceptions=True)
    assert sorted(type(result).__name__ for result in results) == ["NoneType", "WriteConflict"]
    assert any(isinstance(result, WriteConflict) for result in results)
