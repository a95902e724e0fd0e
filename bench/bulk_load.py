"""A large database, fast: incidents and events written as multi-row INSERTs.

The shape is a help desk after a year or two: most incidents closed or
resolved, a tenth still new; priorities, services and types mixed; ten
events per incident, most of them resolved. Ids are given explicitly (and
PostgreSQL's sequences moved past them afterwards), so every run builds the
same database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.database import Database, DatabaseSettings
from storage.incident_state import incident_key
from storage.migrations import migrate
from storage.sql import Sql

SERVICES = 50
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
_ROWS_PER_STATEMENT = 1000
_STATUSES = ("closed",) * 10 + ("resolved",) * 6 + ("new",) * 2 + ("acknowledged",) * 2
_TYPES = ("incident",) * 7 + ("service_request",) * 2 + ("complaint",)

INCIDENT_COLUMNS = (
    "id, key, title, type, status, priority, impact, urgency, major, service, ci, environment, "
    "category, assignment_group, requester, correlation_key, open_key, event_count, "
    "firing_events, created_at, updated_at, resolved_at, closed_at, related_incidents, "
    "routes, escalated, owner, problem_candidate, response_breached, resolution_breached"
)
EVENT_COLUMNS = (
    "id, fingerprint, source, kind, name, resource, service, ci, environment, severity, "
    "status, summary, description, labels, url, count, first_seen, last_seen, last_outcome, "
    "suppressed_by, flapping, transitions, correlation_key, incident_id"
)


def service(number: int) -> str:
    return f"svc-{number % SERVICES:02d}"


def _incident(sql: Sql, number: int) -> list[Any]:
    created = EPOCH + timedelta(minutes=5 * number)
    status = _STATUSES[number % len(_STATUSES)]
    finished = status in ("resolved", "closed")
    open_key = None if finished else f"ck-{number}"
    return [
        number,
        incident_key(number),
        f"disk full on host-{number % 997}",
        _TYPES[number % len(_TYPES)],
        status,
        f"P{number % 4 + 1}",
        number % 4 + 1,
        (number // 4) % 4 + 1,
        number % 97 == 0,
        service(number),
        f"host-{number % 997}",
        "prod",
        "hardware",
        "ops",
        "",
        f"ck-{number}",
        open_key,
        10,
        0 if finished else 1,
        sql.time(created),
        sql.time(created + timedelta(minutes=30)),
        sql.time(created + timedelta(minutes=30) if finished else None),
        sql.time(created + timedelta(days=5) if status == "closed" else None),
        "[]",
        '["helpdesk-mail"]',
        "[]",
        "",
        False,
        False,
        False,
    ]


def _event(sql: Sql, number: int, per_incident: int) -> list[Any]:
    incident = number // per_incident + 1
    seen = EPOCH + timedelta(minutes=5 * incident, seconds=number % per_incident)
    sources = ("alertmanager", "zabbix", "grafana", "helpdesk")
    return [
        number + 1,
        f"fp-{number:08d}",
        sources[number % len(sources)],
        "alertmanager",
        f"Check{number % 200}",
        f"host-{incident % 997}",
        service(incident),
        f"host-{incident % 997}",
        "prod",
        "high",
        "firing" if number % 50 == 0 else "resolved",
        f"check {number % 200} on host-{incident % 997} crossed its threshold",
        "",
        '{"job": "node", "team": "ops"}',
        "",
        1 + number % 7,
        sql.time(seen),
        sql.time(seen + timedelta(minutes=10)),
        "new",
        "",
        False,
        "[]",
        f"ck-{incident}",
        incident,
    ]


async def _insert(
    db: Database, table: str, columns: str, rows: Sequence[int], make: Callable[[int], list[Any]]
) -> None:
    width = columns.count(",") + 1
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        values = [value for number in chunk for value in make(number)]
        marks = ", ".join(
            f"({db.placeholders(width, start=1 + index * width)})" for index in range(len(chunk))
        )
        async with db.transaction() as connection:
            await connection.execute_query(
                f"INSERT INTO {table} ({columns}) VALUES {marks}", values
            )


async def load(url: str, incidents: int, events_per_incident: int) -> None:
    """Create the schema on an empty database and fill it."""
    db = Database(DatabaseSettings(url=url))
    await db.open()
    try:
        await migrate(db)
        sql = Sql(db.dialect)
        await _insert(
            db, "incidents", INCIDENT_COLUMNS, range(1, incidents + 1), lambda n: _incident(sql, n)
        )
        total = incidents * events_per_incident
        await _insert(
            db,
            "events",
            EVENT_COLUMNS,
            range(total),
            lambda n: _event(sql, n, events_per_incident),
        )
        if sql.postgres:
            for table in ("incidents", "events"):
                await db.connection.execute_query(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            # what autovacuum does soon after a bulk load: the planner's statistics
            await db.connection.execute_query("ANALYZE incidents, events")
    finally:
        await db.close()
