"""The SQL that differs between SQLite and PostgreSQL in reports, and the period filter
every report query shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.sql import Sql


@dataclass(frozen=True, slots=True)
class Period:
    """What a report covers: incidents opened in [start, end), optionally one service
    and one priority."""

    start: datetime
    end: datetime
    service: str | None = None
    priority: str | None = None


class ReportSql(Sql):
    def seconds(self, later: str, earlier: str) -> str:
        """Seconds from one time column (or expression) to another, as a float."""
        if self.postgres:
            return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
        # julianday reads the stored text, its UTC offset included; a day as a float
        # holds ~0.01 ms, so the difference is rounded to the millisecond
        return f"ROUND((julianday({later}) - julianday({earlier})) * 86400.0, 3)"

    def epoch(self, column: str) -> str:
        """A time column as UNIX seconds (NULL stays NULL)."""
        if self.postgres:
            return f"EXTRACT(EPOCH FROM {column})::float8"
        return f"ROUND((julianday({column}) - 2440587.5) * 86400.0, 3)"

    def later(self, later: str, earlier: str) -> str:
        """Whether one time is after another (SQLite: compared as times, not as text)."""
        if self.postgres:
            return f"{later} > {earlier}"
        return f"julianday({later}) > julianday({earlier})"

    def day(self, column: str) -> str:
        """The UTC date of a time column as YYYY-MM-DD."""
        if self.postgres:
            return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        return f"date({column})"

    def after_at(self, column: str) -> str:
        """The text after the first '@' (a sender's domain)."""
        if self.postgres:
            return f"lower(split_part({column}, '@', 2))"
        return f"lower(substr({column}, instr({column}, '@') + 1))"

    def incidents_in(self, period: Period, alias: str = "i") -> tuple[str, list[Any]]:
        """WHERE text for incidents opened in the period, and its values."""
        where = f"{alias}.created_at >= ? AND {alias}.created_at < ?"
        values: list[Any] = [self.time(period.start), self.time(period.end)]
        if period.service is not None:
            where += f" AND {alias}.service = ?"
            values.append(period.service)
        if period.priority is not None:
            where += f" AND {alias}.priority = ?"
            values.append(period.priority)
        return where, values

    def percentiles(self, group: str, value: str, source: str) -> str:
        """Count, mean, median and p90 (nearest rank: the smallest value with at least
        that share of values at or below it) of ``value`` per ``group``, over the rows
        of ``source`` (a FROM ... WHERE text); one row per group plus the group 'all'."""
        return (
            f"WITH d AS (SELECT {group} AS grp, {value} AS s {source} "
            f"UNION ALL SELECT 'all' AS grp, {value} AS s {source}), "
            "r AS (SELECT grp, s, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY s) AS n, "
            "COUNT(*) OVER (PARTITION BY grp) AS c FROM d) "
            "SELECT grp, MAX(c) AS count, AVG(s) AS mean, "
            "MIN(CASE WHEN n >= c * 0.5 THEN s END) AS median, "
            "MIN(CASE WHEN n >= c * 0.9 THEN s END) AS p90 FROM r GROUP BY grp ORDER BY grp"
        )
