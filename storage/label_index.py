"""SQLite: firing events found by a label through a partial index on that label.

An inhibit rule looks its sources up by a label pair (``alertname=UplinkDown``).
Each label name the rules look up by gets an index on the expression
``json_extract(labels, '$."name"')`` over the firing, unsuppressed events only,
kept by the engine at each write of an event, at the cost of one JSON lookup for
a firing event (the table of every label pair of every firing event, kept by
triggers before, cost a new alert about 45 us: most of its INSERT).

The query names the same expression, so the planner takes the index where it
exists and reads the firing events where it does not: an index is what makes the
lookup fast, never what makes it right. PostgreSQL needs none of this: its GIN
index on the labels of firing events answers any pair (migration 5).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import orjson
import structlog

from storage.atomic import QueryRunner, run_atomic
from storage.database import Database, Dialect

log = structlog.get_logger(__name__)

PREFIX = "idx_events_label_"
FIRING = "status = 'firing' AND suppressed_by = ''"


def label_value(name: str, table: str = "") -> str:
    """SQL for the label ``name`` of an event row: the indexed expression.

    The JSON path is written into the SQL, not bound, since the planner matches an
    expression index only to the same expression with the same constant. SQLite
    compares a quoted path step with the key as the JSON text spells it, escapes
    and all, and ends the step at the first double quote: see ``addressable``.
    """
    path = '$."' + orjson.dumps(name).decode()[1:-1] + '"'
    return f"json_extract({_labels(table)}, {_literal(path)})"


def addressable(name: str) -> bool:
    """Whether a JSON path reaches label ``name`` (not with a double quote in it)."""
    return '"' not in name


def label_equals(name: str, table: str = "") -> str:
    """SQL that the label ``name`` of an event row equals the one ``?`` it holds."""
    if addressable(name):
        return f"{label_value(name, table)} = ?"
    return (
        f"EXISTS (SELECT 1 FROM json_each({_labels(table)}) AS j "
        f"WHERE j.key = {_literal(name)} AND j.value = ?)"
    )


def _labels(table: str) -> str:
    return f"{table}.labels" if table else "labels"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def index_name(name: str) -> str:
    """The index of label ``name``: by digest, since a label name may hold any character."""
    return PREFIX + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]


async def keep_label_indexes(connection: QueryRunner, names: Iterable[str]) -> tuple[int, int]:
    """Create the indexes of ``names`` that are missing and drop the others (each
    costs every firing event's write); how many were created and dropped.

    Creating one reads every event once: at start or after a reload that names a
    new label, not per event.
    """
    wanted = {index_name(name): name for name in names if addressable(name)}
    _, rows = await connection.execute_query(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
        "AND substr(name, 1, ?) = ?",
        [len(PREFIX), PREFIX],
    )
    present = {str(row["name"]) for row in rows}
    for stale in sorted(present - wanted.keys()):
        await connection.execute_query(f'DROP INDEX IF EXISTS "{stale}"')
    missing = sorted(wanted.keys() - present)
    for index in missing:
        await connection.execute_query(
            f'CREATE INDEX IF NOT EXISTS "{index}" ON events ({label_value(wanted[index])}) '
            f"WHERE {FIRING}"
        )
    return len(missing), len(present - wanted.keys())


class LabelIndexes:
    """Keeps the label indexes of the rule set in force, once per change of it."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._kept: frozenset[str] | None = None

    async def keep(self, names: frozenset[str]) -> None:
        if self._db.dialect is Dialect.POSTGRES or names == self._kept:
            return

        async def unit(connection: QueryRunner) -> tuple[int, int]:
            return await keep_label_indexes(connection, names)

        created, dropped = await run_atomic(self._db, unit)
        self._kept = names  # only once committed: a failed attempt is made again
        if created or dropped:
            log.info("label_indexes", labels=sorted(names), created=created, dropped=dropped)
