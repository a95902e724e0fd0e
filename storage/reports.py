"""Report figures computed by the database: counts, groupings, calendar-time
percentiles and SLA compliance are SQL aggregates that run on SQLite and
PostgreSQL alike (docs/reports.md defines each figure). What needs a service
calendar (holidays, time zones) is read as a stream of rows here and counted
by ``rules.calendars`` in gateway.reports, the same code that set the due times.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from storage.atomic import write_statement
from storage.database import Database, reads_database
from storage.report_days import DaySums
from storage.report_sql import Period, ReportSql

_DIMENSIONS = ("type", "category", "service", "priority")
_TOP = 10
BREACHES_LISTED = 1000
_STREAM_PAGE = 5000
# first response: the first acknowledge, or the resolve when nobody acknowledged
RESPONDED = "COALESCE(i.acknowledged_at, i.resolved_at)"


class Reports:
    listed = BREACHES_LISTED  # breaches of each clock the SLA report lists

    def __init__(self, db: Database) -> None:
        self._db = db
        self.sql = ReportSql(db.dialect)
        self._days = DaySums(self._rows, self.sql)

    async def _rows(self, statement: str, values: list[Any]) -> list[dict[str, Any]]:
        _, rows = await self._db.connection.execute_query(self.sql(statement), values)
        return [dict(row) for row in rows]

    async def _driver_rows(self, statement: str, values: list[Any]) -> list[Any]:
        """Rows as the driver gives them, read by column name: no dict per row."""
        _, rows = await self._db.connection.execute_query(self.sql(statement), values)
        return list(rows)

    @reads_database("reading incident volumes")
    async def volumes(self, period: Period) -> dict[str, Any]:
        where, values = self.sql.incidents_in(period)
        found: dict[str, Any] = {}
        for dimension in _DIMENSIONS:
            found[f"incidents_by_{dimension}"] = await self.incidents_by(dimension, period)
        day = self.sql.day("i.created_at")
        found["incidents_by_day"] = await self._rows(
            f"SELECT {day} AS key, COUNT(*) AS count FROM incidents i WHERE {where} "
            f"GROUP BY {day} ORDER BY key",
            values,
        )
        found["events_by_source"] = await self._events_by("source", period, None)
        found["intake_by_channel"] = await self._rows(
            "SELECT channel AS key, COUNT(*) AS count FROM intake_records "
            "WHERE received_at >= ? AND received_at < ? GROUP BY channel ORDER BY count DESC, key",
            [self.sql.time(period.start), self.sql.time(period.end)],
        )
        found["total"] = sum(int(row["count"]) for row in found["incidents_by_priority"])
        return found

    @reads_database("reading incident volumes")
    async def incidents_by(self, dimension: str, period: Period) -> list[dict[str, Any]]:
        """Incidents of the period by type, category, service or priority, most first."""
        assert dimension in _DIMENSIONS
        where, values = self.sql.incidents_in(period)
        return await self._rows(
            f"SELECT i.{dimension} AS key, COUNT(*) AS count FROM incidents i "
            f"WHERE {where} GROUP BY i.{dimension} ORDER BY count DESC, key",
            values,
        )

    async def _events_by(
        self, measure: str, period: Period, limit: int | None
    ) -> list[dict[str, Any]]:
        """Events seen in the period by source, alert name (their counters) or sender
        domain: from the daily roll-up, or for one service from the events."""
        if period.service is None:
            return await self._days.events(measure, period, limit)
        events_where, event_values = self._events_in(period)
        if measure == "source":
            key, value, where = "e.source", "COUNT(*)", ""
        elif measure == "alert":
            key, value, where = "e.name", "SUM(e.count)", " AND e.kind <> 'email'"
        else:
            key, value = self.sql.after_at("e.resource"), "COUNT(*)"
            where = " AND e.kind = 'email' AND e.resource LIKE '%@%'"
        return await self._rows(
            f"SELECT {key} AS key, {value} AS count FROM events e WHERE {events_where}{where} "
            f"GROUP BY {key} ORDER BY count DESC, key" + (f" LIMIT {limit}" if limit else ""),
            event_values,
        )

    def _events_in(self, period: Period) -> tuple[str, list[Any]]:
        """Events seen in the period (first seen before its end, last seen in or after
        it): found through the index on last_seen."""
        where = "e.last_seen >= ? AND e.first_seen < ?"
        values: list[Any] = [self.sql.time(period.start), self.sql.time(period.end)]
        if period.service is not None:
            where += " AND e.service = ?"
            values.append(period.service)
        return where, values

    async def clocks(self, period: Period) -> AsyncIterator[list[Any]]:
        """Incidents of the period with the times a service calendar counts, a page at
        a time (flat memory over any number)."""
        where, values = self.sql.incidents_in(period)
        after: list[Any] = []
        while True:
            page = await self._clock_page(where, values, after)
            if not page:
                return
            yield page
            after = [page[-1]["at"], page[-1]["id"]]

    @reads_database("reading incident times")
    async def _clock_page(self, where: str, values: list[Any], after: list[Any]) -> list[Any]:
        """Times as UNIX seconds (no parsing of 100,000 texts into datetimes) and the
        calendar seconds to acknowledge and resolve; in the order of the index on
        (created_at, id), which holds every column read. The columns' order is read by
        position (gateway.reports.durations): id, at, priority, service, calendar,
        opened, acknowledged, resolved, to_acknowledge, to_resolve, day."""
        sql, epoch = self.sql, self.sql.epoch
        following = ""
        if after:  # from the last row on: its time as the range's start, then its id
            values = [after[0], *values[1:]]
            following = " AND (i.created_at > ? OR i.id > ?)"
        return await self._driver_rows(
            f"SELECT i.id, i.created_at AS at, i.priority, i.service, i.sla_calendar AS calendar, "
            f"{epoch('i.created_at')} AS opened, {epoch('i.acknowledged_at')} AS acknowledged, "
            f"{epoch('i.resolved_at')} AS resolved, "
            f"{sql.seconds('i.acknowledged_at', 'i.created_at')} AS to_acknowledge, "
            f"{sql.seconds('i.resolved_at', 'i.created_at')} AS to_resolve, "
            f"{sql.day('i.created_at')} AS day FROM incidents i WHERE {where}{following} "
            "ORDER BY i.created_at, i.id LIMIT ?",
            [*values, *after, _STREAM_PAGE],
        )

    @reads_database("reading SLA compliance")
    async def sla(self, period: Period, now: datetime, listed: bool = True) -> dict[str, Any]:
        """Per priority and service: incidents measured against each target (answered,
        or past due at ``now``), and how many of them breached it; ``listed``: and the
        breaches, the longest over first (up to BREACHES_LISTED of each clock)."""
        where, values = self.sql.incidents_in(period)
        clocks = (("response", RESPONDED), ("resolution", "i.resolved_at"))
        parts = []
        for name, done in clocks:
            due = f"i.{name}_due"
            ended = f"COALESCE({done}, ?)"
            passed = self.sql.later("?", due)
            parts.append(
                f"SUM(CASE WHEN {due} IS NOT NULL AND ({done} IS NOT NULL OR {passed}) "
                f"THEN 1 ELSE 0 END) AS {name}_measured, "
                f"SUM(CASE WHEN {due} IS NOT NULL AND {self.sql.later(ended, due)} "
                f"THEN 1 ELSE 0 END) AS {name}_breached"
            )
        at = self.sql.time(now)
        groups = await self._rows(
            f"SELECT i.priority, i.service, COUNT(*) AS incidents, {', '.join(parts)} "
            f"FROM incidents i WHERE {where} GROUP BY i.priority, i.service "
            "ORDER BY i.priority, i.service",
            [at, at, at, at, *values],
        )
        breaches: list[dict[str, Any]] = []
        for name, done in clocks if listed else ():
            due, ended = f"i.{name}_due", f"COALESCE({done}, ?)"
            over = self.sql.seconds(ended, due)
            # the longest found in the index on (created_at, id) alone, then their rows
            rows = await self._rows(
                f"SELECT i.key, i.title, i.priority, i.service, i.sla_calendar AS calendar, "
                f"'{name}' AS clock, {due} AS due, {done} AS done_at, b.over_seconds "
                f"FROM (SELECT i.id, {over} AS over_seconds "
                f"FROM incidents i WHERE {where} AND {due} IS NOT NULL "
                f"AND {self.sql.later(ended, due)} ORDER BY over_seconds DESC "
                f"LIMIT {BREACHES_LISTED}) AS b JOIN incidents i ON i.id = b.id "
                "ORDER BY b.over_seconds DESC",
                [at, *values, at],
            )
            breaches.extend(rows)
        return {"groups": groups, "breaches": breaches}

    @reads_database("reading response and resolution times")
    async def median(self, period: Period, moment: str) -> float | None:
        """The calendar seconds from opening to ``moment`` (acknowledged_at or
        resolved_at) of the incidents of the period that have it: the nearest-rank
        median (the value at rank ceil(n / 2)), as the mttr report counts it."""
        assert moment in ("acknowledged_at", "resolved_at")
        where, values = self.sql.incidents_in(period)
        source = f"FROM incidents i WHERE {where} AND i.{moment} IS NOT NULL"
        [counted] = await self._rows(f"SELECT COUNT(*) AS n {source}", values)
        if not counted["n"]:
            return None
        seconds = self.sql.seconds(f"i.{moment}", "i.created_at")
        [row] = await self._rows(
            f"SELECT {seconds} AS s {source} ORDER BY s LIMIT 1 OFFSET ?",
            [*values, math.ceil(int(counted["n"]) * 0.5) - 1],
        )
        return float(row["s"])

    @reads_database("reading reopens and major incidents")
    async def lifecycle(self, period: Period) -> dict[str, Any]:
        where, values = self.sql.incidents_in(period)
        [counts] = await self._rows(
            "SELECT COUNT(*) AS incidents, "
            "SUM(CASE WHEN i.resolved_at IS NOT NULL OR EXISTS (SELECT 1 FROM timeline t "
            "WHERE t.incident_id = i.id AND t.kind = 'reopened') THEN 1 ELSE 0 END) AS resolved, "
            "SUM(CASE WHEN EXISTS (SELECT 1 FROM timeline t WHERE t.incident_id = i.id "
            "AND t.kind = 'reopened') THEN 1 ELSE 0 END) AS reopened, "
            "SUM(CASE WHEN i.major THEN 1 ELSE 0 END) AS major, "
            "SUM(CASE WHEN i.problem_candidate THEN 1 ELSE 0 END) AS problem_candidates, "
            "SUM(CASE WHEN EXISTS (SELECT 1 FROM timeline t WHERE t.incident_id = i.id "
            "AND t.kind = 'known_error') THEN 1 ELSE 0 END) AS known_error_matches "
            f"FROM incidents i WHERE {where}",
            values,
        )
        majors = await self._rows(
            "SELECT i.key, i.title, i.priority, i.service, i.status, i.created_at, "
            f"i.resolved_at FROM incidents i WHERE {where} AND i.major ORDER BY i.id LIMIT 200",
            values,
        )
        return {
            "counts": {key: int(value or 0) for key, value in counts.items()},
            "major_incidents": majors,
        }

    @reads_database("reading satisfaction ratings")
    async def ratings(self, period: Period) -> dict[int, int]:
        """Incidents of the period by the requester's rating (1-5), rated ones only."""
        where, values = self.sql.incidents_in(period)
        rows = await self._rows(
            "SELECT i.rating AS rating, COUNT(*) AS n FROM incidents i "
            f"WHERE {where} AND i.rating IS NOT NULL GROUP BY i.rating",
            values,
        )
        return {int(row["rating"]): int(row["n"]) for row in rows}

    @reads_database("reading top offenders")
    async def offenders(self, period: Period) -> dict[str, list[dict[str, Any]]]:
        where, values = self.sql.incidents_in(period)
        return {
            "ci": await self._rows(
                f"SELECT i.ci AS key, COUNT(*) AS count FROM incidents i WHERE {where} "
                f"AND i.ci <> '' GROUP BY i.ci ORDER BY count DESC, key LIMIT {_TOP}",
                values,
            ),
            "alert_name": await self._events_by("alert", period, _TOP),
            "sender_domain": await self._events_by("domain", period, _TOP),
        }

    @reads_database("reading noise reduction")
    async def noise(self, period: Period) -> dict[str, Any]:
        """Intake records -> evaluated occurrences -> events -> incidents, and what was
        held back on the way, by reason."""
        span = [self.sql.time(period.start), self.sql.time(period.end)]
        service = " AND e.service = ?" if period.service is not None else ""
        extra = [period.service] if period.service is not None else []
        if period.service is None:  # the daily roll-up, the edges from the rows
            counted = await self._days.outcomes(period)
        else:
            counted = await self._rows(
                "SELECT o.outcome AS key, COUNT(*) AS count FROM occurrences o "
                f"JOIN events e ON e.id = o.event_id WHERE o.at >= ? AND o.at < ?{service} "
                "GROUP BY o.outcome",
                [*span, *extra],
            )
        # silence or maintenance: the suppressing rule stored on the event (only these
        # occurrences are joined to their events)
        if period.service is None:
            split = await self._days.suppressed(period, counted)
        else:
            split = await self._rows(
                "SELECT CASE WHEN e.suppressed_by LIKE 'maintenance:%' THEN 'maintenance' "
                "ELSE 'silence' END AS key, COUNT(*) AS count FROM occurrences o "
                "JOIN events e ON e.id = o.event_id WHERE o.at >= ? AND o.at < ? "
                f"AND o.outcome = 'suppressed'{service} GROUP BY 1",
                [*span, *extra],
            )
        outcomes = _outcomes(counted, split)
        where, values = self.sql.incidents_in(period)
        [incidents] = await self._rows(
            f"SELECT COUNT(*) AS count FROM incidents i WHERE {where}", values
        )
        counts = await self.noise_counts(period)
        return {
            "intake_records": counts["intake_records"],
            "occurrences": sum(row["count"] for row in outcomes),
            "events": counts["events"],
            "incidents": int(incidents["count"]),
            "by_outcome": outcomes,
        }

    @reads_database("reading noise reduction")
    async def noise_counts(self, period: Period) -> dict[str, int]:
        """Intake records received and events seen in the period."""
        [intake] = await self._rows(
            "SELECT COUNT(*) AS count FROM intake_records WHERE received_at >= ? "
            "AND received_at < ?",
            [self.sql.time(period.start), self.sql.time(period.end)],
        )
        events = sum(row["count"] for row in await self._events_by("source", period, None))
        return {"intake_records": int(intake["count"]), "events": int(events)}

    @reads_database("reading services")
    async def service_known(self, service: str) -> bool:
        rows = await self._rows(
            "SELECT 1 AS one FROM incidents WHERE service = ? LIMIT 1", [service]
        )
        return bool(rows)


@reads_database("reading incident time histograms")
async def time_histogram(
    db: Database, moment: str, bounds: tuple[float, ...]
) -> list[dict[str, Any]]:
    """Per priority, over every stored incident with ``moment`` (acknowledged_at or
    resolved_at) set: the count, the sum of seconds since it opened, and how many took
    at most each bound (cumulative, as Prometheus buckets are)."""
    sql = ReportSql(db.dialect)
    assert moment in ("acknowledged_at", "resolved_at")
    buckets = ", ".join(
        f"SUM(CASE WHEN s <= {bound!r} THEN 1 ELSE 0 END) AS b{index}"
        for index, bound in enumerate(bounds)
    )
    seconds = sql.seconds(moment, "created_at")
    _, rows = await db.connection.execute_query(
        f"SELECT priority, COUNT(*) AS count, SUM(s) AS total, {buckets} FROM "
        f"(SELECT priority, {seconds} AS s FROM incidents WHERE {moment} IS NOT NULL) AS d "
        "GROUP BY priority ORDER BY priority"
    )
    return [dict(row) for row in rows]


_FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
_REASONS = {"pending": "threshold"}  # held below an N-in-M threshold


def _outcomes(counted: list[dict[str, Any]], split: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Occurrences by outcome, 'suppressed' told apart as silence and maintenance."""
    found = [
        {"key": _REASONS.get(row["key"], row["key"]), "count": int(row["count"])}
        for row in counted
        if row["key"] != "suppressed"
    ]
    found += [{"key": row["key"], "count": int(row["count"])} for row in split]
    return sorted(found, key=lambda row: (-row["count"], row["key"]))


async def claim_once(db: Database, name: str, owner: str) -> bool:
    """Mark ``name`` (a report of one month) as taken by ``owner``; False when a replica
    has it already. Kept as a lease row that never runs out."""
    sql = ReportSql(db.dialect)
    rows = await write_statement(
        db,
        sql(
            "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO NOTHING RETURNING name"
        ),
        [name, owner, sql.time(_FOREVER)],
        "report claim",
    )
    return bool(rows)


async def give_up_claim(db: Database, name: str, owner: str) -> None:
    """Let the next attempt (this replica's or another's) take it again."""
    sql = ReportSql(db.dialect)
    await write_statement(
        db, sql("DELETE FROM leases WHERE name = ? AND owner = ?"), [name, owner], "report claim"
    )
