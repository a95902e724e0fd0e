"""The reports' daily roll-up against counting every row: events and occurrences
written by the judging unit over several days (repeats moving an event's last day,
mail, suppressions), periods starting and ending at and between midnights, before
and after retention deletes old rows; and the roll-up kept by the pipeline equal to
the one the migration builds from the rows."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from core.records import Event, EventStatus, Severity
from rules.decision import Decision, EventOutcome, IncidentAction, State
from rules.placeholder import FingerprintRuleSet
from storage.database import Database, DatabaseSettings
from storage.incidents import IncidentStore
from storage.migrations import migrate
from storage.report_sql import Period, ReportSql
from storage.reports import Reports, _outcomes
from storage.retention import RetentionStore
from storage.rollup import rebuild

T0 = datetime(2026, 3, 1, tzinfo=UTC)


class QuietRules(FingerprintRuleSet):
    """Events named quiet-* are held by a silence, maint-* by a maintenance window."""

    def evaluate(self, event: Event, state: State, now: datetime) -> Decision:
        decision = super().evaluate(event, state, now)
        for prefix, rule in (("quiet", "silence:7"), ("maint", "maintenance:nightly")):
            if event.name.startswith(prefix):
                return dataclasses.replace(
                    decision,
                    outcome=EventOutcome.SUPPRESSED,
                    action=IncidentAction.NONE,
                    suppressed_by=rule,
                )
        return decision


def _event(source: str, name: str, resource: str, at: datetime, firing: bool = True) -> Event:
    return Event(
        source=source,
        kind="email" if source == "mail" else "generic",
        name=name,
        resource=resource,
        severity=Severity.HIGH,
        status=EventStatus.FIRING if firing else EventStatus.RESOLVED,
        summary=name,
        occurred_at=at,
    )


# (hours after T0, source, name, resource, firing): repeats of one alert on later days
# move its last day; some arrive just before and at midnight
ARRIVALS = [
    (1, "am", "disk", "db1", True),
    (5, "am", "disk", "db1", True),
    (23.9999, "am", "cpu", "db2", True),
    (24, "am", "disk", "db1", True),
    (24, "zbx", "ping", "sw1", True),
    (30, "mail", "help", "Ann@Example.ORG", True),
    (31, "mail", "help2", "bob@example.org", True),
    (35, "am", "quiet-fan", "db3", True),
    (47.5, "am", "maint-reboot", "db4", True),
    (49, "am", "maint-reboot", "db4", True),
    (50, "zbx", "ping", "sw1", False),
    (60, "am", "quiet-fan", "db3", True),
    (71, "mail", "help", "Ann@Example.ORG", True),
    (72, "am", "cpu", "db2", True),
    (80, "zbx", "ping", "sw1", True),
    (97, "am", "disk", "db1", True),
    (100, "mail", "noreply", "postmaster", True),
]
MOMENTS = [T0 + timedelta(hours=h) for h in (-24, 0, 0.5, 6, 24, 35.25, 48, 61, 72, 96, 120)]


async def _raw(reports: Reports, period: Period) -> dict[str, Any]:
    """The figures counted from every row, as the reports counted them before the
    roll-up."""
    sql: ReportSql = reports.sql
    span = [sql.time(period.start), sql.time(period.end)]
    seen = "e.last_seen >= ? AND e.first_seen < ?"
    domain = sql.after_at("e.resource")

    async def rows(statement: str) -> list[dict[str, Any]]:
        _, found = await reports._db.connection.execute_query(sql(statement), span)
        return [{"key": row["key"], "count": int(row["count"])} for row in found]

    counted = await rows(
        "SELECT o.outcome AS key, COUNT(*) AS count FROM occurrences o "
        "WHERE o.at >= ? AND o.at < ? GROUP BY o.outcome"
    )
    split = await rows(
        "SELECT CASE WHEN e.suppressed_by LIKE 'maintenance:%' THEN 'maintenance' "
        "ELSE 'silence' END AS key, COUNT(*) AS count FROM occurrences o "
        "JOIN events e ON e.id = o.event_id WHERE o.at >= ? AND o.at < ? "
        "AND o.outcome = 'suppressed' GROUP BY 1"
    )
    by_source = await rows(
        f"SELECT e.source AS key, COUNT(*) AS count FROM events e WHERE {seen} "
        "GROUP BY e.source ORDER BY count DESC, key"
    )
    return {
        "events_by_source": by_source,
        "events": sum(row["count"] for row in by_source),
        "by_outcome": _outcomes(counted, split),
        "alert_name": await rows(
            f"SELECT e.name AS key, SUM(e.count) AS count FROM events e WHERE {seen} "
            "AND e.kind <> 'email' GROUP BY e.name ORDER BY count DESC, key LIMIT 10"
        ),
        "sender_domain": await rows(
            f"SELECT {domain} AS key, COUNT(*) AS count FROM events e WHERE {seen} "
            f"AND e.kind = 'email' AND e.resource LIKE '%@%' GROUP BY {domain} "
            "ORDER BY count DESC, key LIMIT 10"
        ),
    }


async def _rolled_up(reports: Reports, period: Period) -> dict[str, Any]:
    volumes, offenders = await reports.volumes(period), await reports.offenders(period)
    noise = await reports.noise(period)
    return {
        "events_by_source": volumes["events_by_source"],
        "events": noise["events"],
        "by_outcome": noise["by_outcome"],
        "alert_name": offenders["alert_name"],
        "sender_domain": offenders["sender_domain"],
    }


async def _same_figures(reports: Reports) -> int:
    compared = 0
    for start, end in itertools.combinations(MOMENTS, 2):
        period = Period(start, end)
        assert await _rolled_up(reports, period) == await _raw(reports, period), period
        compared += 1
    return compared


async def _stored(db: Database) -> list[tuple[Any, ...]]:
    _, rows = await db.connection.execute_query(
        "SELECT measure, key, day, first_n, first_hits, last_n, last_hits FROM report_days "
        "WHERE first_n <> 0 OR first_hits <> 0 OR last_n <> 0 OR last_hits <> 0 "
        "ORDER BY measure, key, day"
    )
    return [tuple(dict(row).values()) for row in rows]


async def test_the_roll_up_gives_the_figures_of_every_row(db: Database) -> None:
    store, rules = IncidentStore(db), QuietRules()
    for hours, source, name, resource, firing in ARRIVALS:
        now = T0 + timedelta(hours=hours)
        async with db.transaction() as connection:
            event = _event(source, name, resource, now, firing)
            await store.judge(connection, rules, [event, event], None, now)
    reports = Reports(db)
    assert await _same_figures(reports) == 55
    busy = await _rolled_up(reports, Period(T0, T0 + timedelta(days=5)))
    assert {row["key"] for row in busy["by_outcome"]} >= {"silence", "maintenance", "new"}
    assert busy["sender_domain"] == [{"key": "example.org", "count": 2}]

    # kept by every write as the migration builds it from the rows
    kept = await _stored(db)
    async with db.transaction() as connection:
        await rebuild(connection, reports.sql)
    assert await _stored(db) == kept

    # retention takes what it deletes out of the roll-up (its steps in the job's order)
    retention, cutoff = RetentionStore(db), T0 + timedelta(hours=62)
    await retention.prune_incidents(cutoff, 1000)
    assert await retention.prune_occurrences(cutoff, 1000) > 0
    assert await retention.prune_loose_events(cutoff, 1000) > 0
    await _same_figures(reports)
    kept = await _stored(db)
    async with db.transaction() as connection:
        await rebuild(connection, reports.sql)
    assert await _stored(db) == kept


async def test_two_replicas_writing_at_once_lose_no_increment(postgres_url: str) -> None:
    """Two daemons on one PostgreSQL judge events of the same day, source and outcome
    at once (the same roll-up rows), each batch in one transaction: every increment
    counts, and the roll-up is the one the rows give."""
    replicas = [Database(DatabaseSettings(url=postgres_url)) for _ in range(2)]
    for replica in replicas:
        await replica.open()
    try:
        await migrate(replicas[0])
        rules = QuietRules()

        async def write(replica: Database, name: str) -> None:
            store = IncidentStore(replica)
            for batch in range(15):
                now = T0 + timedelta(minutes=batch)
                events = [
                    _event(source, f"{name}-{batch % 4}", resource, now)
                    for source, resource in (("am", "db1"), ("zbx", "sw1"), ("am", "db2"))
                ]
                async with replica.transaction() as connection:
                    await store.judge(connection, rules, events, None, now)

        await asyncio.gather(write(replicas[0], "left"), write(replicas[1], "right"))
        reports = Reports(replicas[0])
        day = Period(T0, T0 + timedelta(days=1))
        noise = await reports.noise(day)
        assert noise["occurrences"] == 2 * 15 * 3
        assert await _rolled_up(reports, day) == await _raw(reports, day)
        kept = await _stored(replicas[0])
        async with replicas[0].transaction() as connection:
            await rebuild(connection, reports.sql)
        assert await _stored(replicas[0]) == kept
    finally:
        for replica in replicas:
            await replica.close()
