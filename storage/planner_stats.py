"""PostgreSQL: the planner's statistics of events and incidents kept up with bulk loads.

A pooled connection keeps the plan of a prepared statement until the server's
statistics of its tables change. A plan made while ``events`` held a few rows
stays after a 10,000-alert payload made it hold thousands: an inhibit lookup,
planned on a near-empty table, walked the index of every event's status and
read every firing event for each warning (33 million index entries for 30,000
alerts) instead of the GIN index of firing labels. Autovacuum analyzes a table
only after a minute or more; PostgreSQL's own advice after a bulk load is to
run ANALYZE, which also makes every session plan its statements again.

So after each transaction the pipeline counts the events it applied, and once
they are more than a fifth of the events the statistics last counted (and at
least ``MIN_CHANGED``), events and incidents (which new alerts fill as fast:
the read-ahead of open incidents by key had the same stale plans) are
analyzed: a handful of times while a new database fills, rarely once it holds
a history.
"""

from __future__ import annotations

import time

import structlog

from storage.database import DATABASE_ERRORS, Database, Dialect

log = structlog.get_logger(__name__)

MIN_CHANGED = 1000
CHANGED_SHARE = 0.2


class EventStatistics:
    """Analyzes events and incidents on PostgreSQL when the events applied outgrow
    the statistics."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._changed = 0  # events applied by this process since the last analysis
        # how many make the statistics worth a look: the table's size is read only
        # then, not after every transaction, and sets how many the next look waits for
        self._due = MIN_CHANGED

    async def applied(self, events: int) -> None:
        if self._db.dialect is not Dialect.POSTGRES or events <= 0:
            return
        self._changed += events
        if self._changed < self._due:
            return
        try:
            await self._analyze_if_outgrown()
        except DATABASE_ERRORS as error:  # the events are committed: only a plan may wait
            log.warning("tables_analyze_failed", error=str(error))

    async def _analyze_if_outgrown(self) -> None:
        connection = self._db.connection
        _, rows = await connection.execute_query(
            "SELECT reltuples FROM pg_class WHERE oid = 'events'::regclass"
        )
        counted = float(rows[0]["reltuples"]) if rows else -1.0
        # -1: never analyzed (the planner guesses from the table's size alone)
        self._due = max(MIN_CHANGED, int(CHANGED_SHARE * counted))
        if self._changed < self._due:
            return
        started = time.monotonic()
        await connection.execute_script("ANALYZE events, incidents")
        log.info(
            "tables_analyzed",
            applied_since=self._changed,
            rows_before=max(int(counted), 0),
            seconds=round(time.monotonic() - started, 3),
        )
        self._changed = 0
