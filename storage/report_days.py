"""Occurrence and event counts of a period from the daily roll-up (storage/rollup.py):
whole UTC days summed from ``report_days``, the partial days at the period's edges
counted from the rows themselves, so the figures are exactly those of counting every
row (docs/reports.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.report_sql import Period, ReportSql
from storage.rollup import day_of

Rows = Callable[[str, list[Any]], Awaitable[list[dict[str, Any]]]]
_DAY = timedelta(days=1)


def _midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class _Edges:
    """A period cut at UTC midnights: ``start_day`` and ``end_day`` are the midnights
    at or before its start and end; whole days run from ``first_whole`` to ``end_day``."""

    start: datetime
    end: datetime
    start_day: datetime
    end_day: datetime
    first_whole: datetime

    @classmethod
    def of(cls, period: Period) -> _Edges:
        start_day, end_day = _midnight(period.start), _midnight(period.end)
        first_whole = start_day if start_day == period.start else start_day + _DAY
        return cls(period.start, period.end, start_day, end_day, first_whole)


class DaySums:
    def __init__(self, rows: Rows, sql: ReportSql) -> None:
        self._rows = rows
        self.sql = sql

    async def outcomes(self, period: Period) -> list[dict[str, Any]]:
        """Occurrences at a time in the period, by outcome (every service)."""
        edges = _Edges.of(period)
        raw = (
            "SELECT o.outcome AS key, COUNT(*) AS n FROM occurrences o "
            "WHERE o.at >= ? AND o.at < ? GROUP BY o.outcome"
        )
        time = self.sql.time
        if edges.first_whole >= edges.end_day:  # within a day or two: the rows alone
            parts, values = [raw], [time(edges.start), time(edges.end)]
        else:
            parts = [
                "SELECT key, SUM(first_n) AS n FROM report_days WHERE measure = 'outcome' "
                "AND day >= ? AND day < ? GROUP BY key",
                raw,
                raw,
            ]
            values = [
                day_of(edges.first_whole),
                day_of(edges.end_day),
                time(edges.start),
                time(edges.first_whole),
                time(edges.end_day),
                time(edges.end),
            ]
        return await self._summed(parts, values, "")

    async def suppressed(
        self, period: Period, outcomes: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """``outcomes``' suppressed occurrences told apart by their event's suppressing
        rule as stored last: 'maintenance' (a window), else 'silence'. Only the few
        events a window suppresses are joined to their occurrences."""
        total = sum(row["count"] for row in outcomes if row["key"] == "suppressed")
        [row] = await self._rows(
            "SELECT COUNT(*) AS count FROM events e CROSS JOIN occurrences o "
            "WHERE e.suppressed_by LIKE 'maintenance:%' AND o.fingerprint = e.fingerprint "
            "AND o.event_id = e.id AND o.outcome = 'suppressed' AND o.at >= ? AND o.at < ?",
            [self.sql.time(period.start), self.sql.time(period.end)],
        )
        maintenance = int(row["count"])
        found = [("silence", total - maintenance), ("maintenance", maintenance)]
        return [{"key": key, "count": count} for key, count in found if count > 0]

    async def events(self, measure: str, period: Period, limit: int | None) -> list[dict[str, Any]]:
        """Events seen in the period (first seen before its end, last seen in or after
        its start) by ``measure``: 'source' (how many), 'alert' (their counters, mail
        excluded), 'domain' (how many mail events, by the sender's domain)."""
        edges = _Edges.of(period)
        key, where = self._event_key(measure)
        value = "SUM(e.count)" if measure == "alert" else "COUNT(*)"
        first, last = ("first_hits", "last_hits") if measure == "alert" else ("first_n", "last_n")
        time = self.sql.time
        parts = [
            f"SELECT key, SUM(CASE WHEN day < ? THEN {first} ELSE 0 END) - "
            f"SUM(CASE WHEN day < ? THEN {last} ELSE 0 END) AS n FROM report_days "
            "WHERE measure = ? AND day < ? GROUP BY key",
            # first seen on the end's own day, before the end
            f"SELECT {key} AS key, {value} AS n FROM events e WHERE e.first_seen >= ? "
            f"AND e.first_seen < ?{where} GROUP BY {key}",
            # last seen on the start's own day, before the start: not in the period
            f"SELECT {key} AS key, -{value} AS n FROM events e WHERE e.last_seen >= ? "
            f"AND e.last_seen < ?{where} GROUP BY {key}",
        ]
        end_day, start_day = day_of(edges.end_day), day_of(edges.start_day)
        values = [
            end_day,
            start_day,
            measure,
            end_day,
            time(edges.end_day),
            time(edges.end),
            time(edges.start_day),
            time(edges.start),
        ]
        return await self._summed(parts, values, f" LIMIT {limit}" if limit else "")

    def _event_key(self, measure: str) -> tuple[str, str]:
        if measure == "source":
            return "e.source", ""
        if measure == "alert":
            return "e.name", " AND e.kind <> 'email'"
        return self.sql.after_at("e.resource"), " AND e.kind = 'email' AND e.resource LIKE '%@%'"

    async def _summed(
        self, parts: list[str], values: list[Any], limit: str
    ) -> list[dict[str, Any]]:
        """The parts' (key, n) rows added up per key, most first (as the reports'
        own GROUP BY orders them: count, then key in the database's order)."""
        rows = await self._rows(
            f"SELECT key, SUM(n) AS count FROM ({' UNION ALL '.join(parts)}) AS u "
            f"GROUP BY key HAVING SUM(n) > 0 ORDER BY count DESC, key{limit}",
            values,
        )
        return [{"key": row["key"], "count": int(row["count"])} for row in rows]
