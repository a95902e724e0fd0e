"""The audit log: every operator action and reload, append-only and hash-chained.

Each row carries the hash of the row before it (``prev_hash``) and its own
``hash`` = sha256(prev_hash + canonical JSON of the row's content), so
changing, removing or inserting an old row breaks the chain from there on,
which ``verify`` finds. Triggers refuse UPDATE and DELETE (migration 9); the
chain is what still tells when someone with the rights to drop them did.

The chain is serialised by the writer's transaction: ``record`` must run
inside one (the caller's, so the action and its row commit together). On
PostgreSQL a transaction-level advisory lock orders writers of every replica
(it is held until the commit, so the next writer reads this row as the head);
SQLite has one writer at a time. A unique ``prev_hash`` makes a fork
impossible even if a writer skipped the lock: the second child of a row fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from storage.atomic import QueryRunner
from storage.database import Database, Dialect, reads_database
from storage.sql import Sql, as_time

GENESIS = "0" * 64
# Any constant unique to this program: the advisory lock key of the chain's head.
_CHAIN_LOCK = 0x1A7A_A0D1
_PAGE = 2000


@dataclass(frozen=True, slots=True)
class Operator:
    """Who did it (the name they give) and how they came in (``api_token@10.0.0.5``)."""

    actor: str
    via: str


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _at_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def row_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    """sha256 over the previous hash and the canonical JSON of the row's content."""
    return hashlib.sha256(prev_hash.encode() + _canonical(dict(content))).hexdigest()


def _content(
    at: datetime, actor: str, via: str, action: str, subject: str, details: Any
) -> dict[str, Any]:
    return {
        "at": _at_text(at),
        "actor": actor,
        "via": via,
        "action": action,
        "subject": subject,
        "details": details,
    }


def _dialect(connection: QueryRunner) -> Dialect:
    """Tortoise's clients name their engine; the SQLite thread's runner does not."""
    name = getattr(getattr(connection, "capabilities", None), "dialect", "sqlite")
    return Dialect.POSTGRES if name == "postgres" else Dialect.SQLITE


async def record(
    connection: QueryRunner,
    *,
    actor: str,
    via: str,
    action: str,
    subject: str = "",
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> str:
    """Append one row inside the caller's transaction; return its hash."""
    sql = Sql(_dialect(connection))
    when = (at or datetime.now(UTC)).astimezone(UTC)
    if sql.postgres:
        await connection.execute_query(f"SELECT pg_advisory_xact_lock({_CHAIN_LOCK})")
    _, rows = await connection.execute_query("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
    prev = str(rows[0]["hash"]) if rows else GENESIS
    # the stored details are the canonical text, so what is hashed is what is kept
    kept = orjson.loads(_canonical(dict(details or {})))
    content = _content(when, actor[:128], via[:128], action[:64], subject[:255], kept)
    digest = row_hash(prev, content)
    await connection.execute_query(
        sql(
            "INSERT INTO audit_log (at, actor, via, action, subject, details, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        [
            sql.time(when),
            content["actor"],
            content["via"],
            content["action"],
            content["subject"],
            _canonical(kept).decode(),
            prev,
            digest,
        ],
    )
    return digest


async def record_as(
    connection: QueryRunner,
    by: Operator | None,
    action: str,
    subject: str,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """``record`` for an operator; nothing when ``by`` is None (no person acted)."""
    if by is not None:
        await record(
            connection,
            actor=by.actor,
            via=by.via,
            action=action,
            subject=subject,
            details=details,
            at=at,
        )


async def record_alone(
    db: Database, operator: Operator, action: str, subject: str, details: Mapping[str, Any]
) -> None:
    """One row in a transaction of its own (a reload: nothing else is written)."""
    async with db.transaction() as connection:
        await record_as(connection, operator, action, subject, details)


@dataclass(frozen=True, slots=True)
class Verification:
    rows: int  # rows checked (up to the first broken one)
    head: str  # hash of the last good row
    broken_id: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_id is None


def _check(row: Mapping[str, Any], prev: str) -> str:
    """Why the row does not follow ``prev`` (empty when it does)."""
    if row["prev_hash"] != prev:
        return "its prev_hash is not the hash of the row before (a row removed or inserted)"
    try:
        details = orjson.loads(row["details"])
    except orjson.JSONDecodeError:
        return "its details are not JSON"
    at = as_time(row["at"])
    assert at is not None  # NOT NULL column
    content = _content(at, row["actor"], row["via"], row["action"], row["subject"], details)
    if row_hash(prev, content) != row["hash"]:
        return "its content does not match its hash (the row was altered)"
    return ""


async def _pages(db: Database) -> AsyncIterator[list[dict[str, Any]]]:
    """Rows in id order, a page at a time (memory stays flat however long the chain)."""
    sql = Sql(db.dialect)
    after = 0
    while True:
        page = await _page(db, sql, after)
        if not page:
            return
        yield page
        after = int(page[-1]["id"])


@reads_database("reading the audit log")
async def _page(db: Database, sql: Sql, after: int) -> list[dict[str, Any]]:
    _, rows = await db.connection.execute_query(
        sql(
            "SELECT id, at, actor, via, action, subject, details, prev_hash, hash "
            "FROM audit_log WHERE id > ? ORDER BY id LIMIT ?"
        ),
        [after, _PAGE],
    )
    return [dict(row) for row in rows]


async def verify(db: Database) -> Verification:
    """Walk the chain from the first row; stop at the first row that does not follow."""
    prev, count = GENESIS, 0
    async for page in _pages(db):
        for row in page:
            reason = _check(row, prev)
            if reason:
                return Verification(count, prev, int(row["id"]), reason)
            prev, count = str(row["hash"]), count + 1
    return Verification(count, prev)


@reads_database("reading the audit log")
async def entries(
    db: Database, start: datetime | None = None, end: datetime | None = None
) -> list[dict[str, Any]]:
    """Rows between two times (at most 100,000), oldest first, as JSON-ready dicts."""
    sql = Sql(db.dialect)
    low = start or datetime(1970, 1, 1, tzinfo=UTC)
    high = end or datetime(9999, 1, 1, tzinfo=UTC)
    _, rows = await db.connection.execute_query(
        sql(
            "SELECT id, at, actor, via, action, subject, details, hash FROM audit_log "
            "WHERE at >= ? AND at < ? ORDER BY id LIMIT 100000"
        ),
        [sql.time(low), sql.time(high)],
    )
    found = []
    for row in rows:
        at = as_time(row["at"])
        assert at is not None
        found.append({**dict(row), "at": _at_text(at), "details": orjson.loads(row["details"])})
    return found
