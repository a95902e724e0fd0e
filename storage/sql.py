"""Hand-written SQL for the hot paths, portable between SQLite and PostgreSQL.

Statements are written once with ``?`` markers and translated to ``$n`` for
asyncpg. Values read back through the raw connection are normalised here:
SQLite returns times and JSON as text, PostgreSQL returns JSON as text.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from storage.database import Dialect

_MARK = re.compile(r"\?")


@lru_cache(maxsize=512)
def _numbered(statement: str) -> str:
    # every marker, however many (a range once stopped at 9,999: next() then raised
    # StopIteration, which a coroutine turns into RuntimeError, and a 10,000-alert
    # payload's read-ahead on PostgreSQL failed its record)
    counter = itertools.count(1)
    return _MARK.sub(lambda _: f"${next(counter)}", statement)


class Sql:
    """Statement text and parameter values for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.postgres = dialect is Dialect.POSTGRES

    def __call__(self, statement: str) -> str:
        return _numbered(statement) if self.postgres else statement

    def time(self, value: datetime | None) -> Any:
        """A time parameter: a datetime for asyncpg, tortoise's text form for SQLite."""
        if value is None or self.postgres:
            return value
        return _sqlite_time(value)

    @staticmethod
    def json(value: Any) -> str:
        return orjson.dumps(value).decode()

    def for_update(self) -> str:
        """Row lock for read-modify-write; SQLite's single writer needs none."""
        return " FOR UPDATE" if self.postgres else ""


@lru_cache(maxsize=256)
def _sqlite_time(value: datetime) -> str:
    # a batch writes the same few moments (its ``now``) into many rows
    return value.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")


def as_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value
