"""The daily roll-up behind the year-long reports: counts of occurrences and events by
UTC day, kept in the same transaction that writes the rows they count.

One row of ``report_days`` per (measure, key, day):

* ``outcome``: occurrences by outcome (``first_n``: occurrences that day);
* ``source``: events by source, ``alert``: events but mail by name, ``domain``: mail
  events by the sender's domain. ``first_n``/``first_hits``: events first seen that
  day and their counters; ``last_n``/``last_hits``: events last seen that day and
  their counters. Events seen in [start, end) are those first seen before ``end``
  less those last seen before ``start`` (an event is first seen before it is last
  seen), so any period is a difference of two sums.

Every change is an increment (``ON CONFLICT ... DO UPDATE SET n = n + excluded.n``),
so replicas writing at once add up; a transaction's increments go in one statement
in key order, so two transactions never wait on each other's rows crosswise.
Retention takes deleted rows out the same way (``forget_*``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from storage.atomic import QueryRunner
from storage.database import Database
from storage.sql import Sql, as_time

TABLE_DDL = (
    'CREATE TABLE IF NOT EXISTS "report_days" ('
    '"measure" VARCHAR(16) NOT NULL, "key" VARCHAR(512) NOT NULL, "day" VARCHAR(10) NOT NULL, '
    '"first_n" BIGINT NOT NULL DEFAULT 0, "first_hits" BIGINT NOT NULL DEFAULT 0, '
    '"last_n" BIGINT NOT NULL DEFAULT 0, "last_hits" BIGINT NOT NULL DEFAULT 0, '
    'PRIMARY KEY ("measure", "key", "day"))'
)
_COLUMNS = "measure, key, day, first_n, first_hits, last_n, last_hits"
_ROWS_PER_STATEMENT = 500
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

Key = tuple[str, str, str]  # measure, key, day


def day_of(moment: datetime) -> str:
    """The UTC date, as the reports' SQL writes it (YYYY-MM-DD)."""
    if moment.tzinfo is not UTC:  # the pipeline's times are UTC: no conversion
        moment = moment.astimezone(UTC)
    return moment.date().isoformat()  # a fifth of strftime's cost, several times an event


def sender_domain(resource: str, postgres: bool) -> str:
    """What ``ReportSql.after_at`` makes of a mail event's resource, in Python: SQLite
    keeps all after the first '@' and lowers ASCII only; PostgreSQL's split_part keeps
    up to the next '@'."""
    if postgres:
        return resource.split("@")[1].lower()
    return resource[resource.index("@") + 1 :].translate(_ASCII_LOWER)


def event_keys(
    source: str, kind: str, name: str, resource: str, postgres: bool
) -> list[tuple[str, str]]:
    """The (measure, key) pairs an event counts under."""
    keys = [("source", source)]
    if kind != "email":
        keys.append(("alert", name))
    elif "@" in resource:
        keys.append(("domain", sender_domain(resource, postgres)))
    return keys


class DayTally:
    """Increments gathered over one transaction, written by ``write``."""

    def __init__(self, sql: Sql) -> None:
        self._sql = sql
        self._deltas: dict[Key, list[int]] = {}

    @classmethod
    def of(cls, db: Database) -> DayTally:
        return cls(Sql(db.dialect))

    def _add(self, key: Key, first_n: int, first_hits: int, last_n: int, last_hits: int) -> None:
        into = self._deltas.setdefault(key, [0, 0, 0, 0])
        into[0] += first_n
        into[1] += first_hits
        into[2] += last_n
        into[3] += last_hits

    def occurrence(self, outcome: str, at: datetime, sign: int = 1) -> None:
        self._add(("outcome", outcome, day_of(at)), sign, 0, 0, 0)

    def event(self, row: Mapping[str, Any], sign: int = 1) -> None:
        """An event row as stored (source, kind, name, resource, count, first_seen,
        last_seen) added (``sign`` 1) or taken out (-1)."""
        count = int(row["count"])
        first, last = as_time(row["first_seen"]), as_time(row["last_seen"])
        assert first is not None and last is not None
        for measure, key in event_keys(
            row["source"], row["kind"], row["name"], row["resource"], self._sql.postgres
        ):
            self._add((measure, key, day_of(first)), sign, sign * count, 0, 0)
            self._add((measure, key, day_of(last)), 0, 0, sign, sign * count)

    def forget(self, rows: Iterable[Mapping[str, Any]], kind: str) -> None:
        """Rows deleted (``kind`` 'events' or 'occurrences') taken out."""
        for row in rows:
            if kind == "events":
                self.event(row, -1)
            else:
                at = as_time(row["at"])
                assert at is not None
                self.occurrence(row["outcome"], at, -1)

    async def write(self, connection: QueryRunner) -> None:
        rows = sorted(
            (key, deltas) for key, deltas in self._deltas.items() if any(deltas)
        )  # key order: transactions take the rows' locks in the same order
        self._deltas = {}
        for begin in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[begin : begin + _ROWS_PER_STATEMENT]
            await connection.execute_query(
                self._sql(
                    f"INSERT INTO report_days ({_COLUMNS}) VALUES "
                    + ", ".join("(?, ?, ?, ?, ?, ?, ?)" for _ in chunk)
                    + " ON CONFLICT (measure, key, day) DO UPDATE SET "
                    "first_n = report_days.first_n + excluded.first_n, "
                    "first_hits = report_days.first_hits + excluded.first_hits, "
                    "last_n = report_days.last_n + excluded.last_n, "
                    "last_hits = report_days.last_hits + excluded.last_hits"
                ),
                [value for key, deltas in chunk for value in (*key, *deltas)],
            )


EVENT_FIELDS = "source, kind, name, resource, count, first_seen, last_seen"


def build_statements(sql: Sql) -> list[str]:
    """The roll-up made from the stored rows (the migration that adds it): one
    INSERT ... SELECT per measure, grouped by the database."""

    def day(column: str) -> str:
        if sql.postgres:
            return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        return f"date({column})"

    domain = (
        "lower(split_part(resource, '@', 2))"
        if sql.postgres
        else "lower(substr(resource, instr(resource, '@') + 1))"
    )
    keyed = (
        ("source", "source", "1 = 1"),
        ("alert", "name", "kind <> 'email'"),
        ("domain", domain, "kind = 'email' AND resource LIKE '%@%'"),
    )
    statements = [
        f"INSERT INTO report_days ({_COLUMNS}) SELECT 'outcome', outcome, {day('at')}, "
        f"COUNT(*), 0, 0, 0 FROM occurrences GROUP BY outcome, {day('at')}"
    ]
    for measure, key, where in keyed:
        statements.append(
            f"INSERT INTO report_days ({_COLUMNS}) SELECT '{measure}', k, d, SUM(fn), SUM(fh), "
            f"SUM(ln), SUM(lh) FROM (SELECT {key} AS k, {day('first_seen')} AS d, 1 AS fn, "
            f"count AS fh, 0 AS ln, 0 AS lh FROM events WHERE {where} UNION ALL "
            f"SELECT {key}, {day('last_seen')}, 0, 0, 1, count FROM events WHERE {where}) "
            "AS u GROUP BY k, d"
        )
    return statements


async def rebuild(connection: QueryRunner, sql: Sql) -> None:
    """The roll-up made again from the stored rows, for rows written around the
    pipeline (a bulk load)."""
    await connection.execute_query("DELETE FROM report_days")
    for statement in build_statements(sql):
        await connection.execute_query(statement)
