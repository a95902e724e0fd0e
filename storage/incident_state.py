"""Loading the rule engine's State for an event: the rows its decision depends on.

Half of the incident store (``storage.incidents`` writes the Decision). The
event row and the open incident of its correlation key are locked (``FOR
UPDATE``) while the decision is made; a batch can read them ahead in two
statements (``storage.readahead``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import Any

from core.records import Severity
from rules.decision import (
    EventState,
    FiringEvent,
    IncidentState,
    IncidentStatus,
    Lookup,
    Priority,
    SilenceState,
    State,
    StoredStatus,
    follow_up_routes,
)
from storage.atomic import QueryRunner
from storage.label_index import label_equals
from storage.readahead import UNKNOWN, ReadAhead, Row, Unknown
from storage.sql import Sql, as_json, as_time

_RELATED_LIMIT = 50
_FIRING_SOURCES_PER_QUERY = 20

EVENT_COLUMNS = (
    "id, fingerprint, status, severity, count, first_seen, last_seen, incident_id, "
    "flapping, transitions, source, kind, name, resource"
)
_INCIDENT_FIELDS = (
    "id, key, status, priority, correlation_key, created_at, updated_at, resolved_at, "
    "firing_events, ci, event_count, resolve_after, routes"
)
# the sinks that hold a ticket of the incident, as a JSON array (NULL on PostgreSQL
# when there is none); the unique index on (incident_id, sink) answers it
_TICKET_SINKS = "{aggregate} FROM external_refs WHERE external_refs.incident_id = incidents.id"


def incident_columns(sql: Sql) -> str:
    """The columns ``incident_state`` reads, for a SELECT from ``incidents``."""
    return _incident_columns(sql.postgres)


@cache
def _incident_columns(postgres: bool) -> str:
    aggregate = "json_agg(sink ORDER BY id)" if postgres else "json_group_array(sink)"
    return f"{_INCIDENT_FIELDS}, (SELECT {_TICKET_SINKS.format(aggregate=aggregate)}) AS tickets"


def incident_key(incident_id: int) -> str:
    """The human ticket number put in mail subjects: INC-000123."""
    return f"INC-{incident_id:06d}"


def incident_state(row: Mapping[str, Any]) -> IncidentState:
    return IncidentState(
        id=int(row["id"]),
        key=row["key"] or incident_key(int(row["id"])),
        status=IncidentStatus(row["status"]),
        priority=Priority(row["priority"]),
        correlation_key=row["correlation_key"],
        created_at=_required_time(row["created_at"]),
        updated_at=_required_time(row["updated_at"]),
        resolved_at=as_time(row["resolved_at"]),
        firing_events=int(row["firing_events"]),
        ci=row["ci"] or "",
        event_count=int(row["event_count"]),
        resolve_after=as_time(row["resolve_after"]),
        routes=follow_up_routes(as_json(row["routes"]) or (), as_json(row["tickets"]) or ()),
    )


async def incident_routes(connection: QueryRunner, sql: Sql, incident_id: int) -> tuple[str, ...]:
    """Every sink of the incident (``IncidentState.routes``): where a change to it goes,
    whoever makes it (a person through the API, the periodic job)."""
    rows = await connection.execute_query_dict(
        sql(f"SELECT {incident_columns(sql)} FROM incidents WHERE id = ?"), [incident_id]
    )
    return incident_state(rows[0]).routes if rows else ()


def _required_time(value: Any) -> datetime:
    found = as_time(value)
    if found is None:
        raise ValueError("a required time column is NULL")
    return found


def _event_state(row: Mapping[str, Any]) -> EventState:
    transitions = as_json(row["transitions"]) or []
    return EventState(
        id=int(row["id"]),
        fingerprint=row["fingerprint"],
        status=StoredStatus(row["status"]),
        severity=Severity(row["severity"]),
        count=int(row["count"]),
        first_seen=_required_time(row["first_seen"]),
        last_seen=_required_time(row["last_seen"]),
        incident_id=int(row["incident_id"]) if row["incident_id"] is not None else None,
        flapping=bool(row["flapping"]),
        transitions=tuple(_required_time(item) for item in transitions),
        source=row["source"],
        kind=row["kind"],
        name=row["name"],
        resource=row["resource"],
    )


async def active_silences(
    connection: QueryRunner, sql: Sql, now: datetime
) -> tuple[SilenceState, ...]:
    rows = await connection.execute_query_dict(
        sql(
            "SELECT id, matchers, starts_at, ends_at FROM silences "
            "WHERE starts_at <= ? AND ends_at > ? AND expired_at IS NULL"
        ),
        [sql.time(now), sql.time(now)],
    )
    return tuple(
        SilenceState(
            id=int(row["id"]),
            matchers=tuple((m["name"], m["op"], m["value"]) for m in as_json(row["matchers"])),
            starts_at=_required_time(row["starts_at"]),
            ends_at=_required_time(row["ends_at"]),
        )
        for row in rows
    )


class IncidentStateReader:
    """The State of an event, read in the transaction that will apply its decision."""

    sql: Sql

    async def read_ahead(self, connection: QueryRunner, lookups: Iterable[Lookup]) -> ReadAhead:
        """The event and open-incident rows of a batch's events, in two statements."""
        fingerprints = list(dict.fromkeys(lookup.fingerprint for lookup in lookups))
        keys = list(dict.fromkeys(lookup.correlation_key for lookup in lookups))
        if not fingerprints:
            return ReadAhead.of((), (), (), ())
        lock = self.sql.for_update()
        event_rows = await connection.execute_query_dict(
            self.sql(
                f"SELECT {EVENT_COLUMNS} FROM events "
                f"WHERE fingerprint IN ({marks(fingerprints)}) ORDER BY id{lock}"
            ),
            fingerprints,
        )
        incident_rows = await connection.execute_query_dict(
            self.sql(
                f"SELECT {incident_columns(self.sql)}, open_key FROM incidents "
                f"WHERE open_key IN ({marks(keys)}) ORDER BY id{lock}"
            ),
            keys,
        )
        return ReadAhead.of(fingerprints, keys, event_rows, incident_rows)

    async def load_state(
        self,
        connection: QueryRunner,
        lookup: Lookup,
        silences: tuple[SilenceState, ...],
        ahead: ReadAhead | None = None,
    ) -> State:
        sql = self.sql
        event_row = await self._known_or_read(
            ahead.event(lookup.fingerprint) if ahead is not None else UNKNOWN,
            connection,
            f"SELECT {EVENT_COLUMNS} FROM events WHERE fingerprint = ?{sql.for_update()}",
            lookup.fingerprint,
        )
        # locked too: the decision is made on, and its update written over, the
        # incident as it is (a person's acknowledgement or the periodic job's
        # resolution committed meanwhile would otherwise be written back over)
        incident_row = await self._known_or_read(
            ahead.incident(lookup.correlation_key) if ahead is not None else UNKNOWN,
            connection,
            f"SELECT {incident_columns(sql)} FROM incidents WHERE open_key = ?{sql.for_update()}",
            lookup.correlation_key,
        )
        if incident_row is None and event_row is not None and event_row["incident_id"]:
            incident_row = await self._one(
                connection,
                f"SELECT {incident_columns(sql)} FROM incidents WHERE id = ?{sql.for_update()}",
                [event_row["incident_id"]],
            )
        if incident_row is None:
            # nothing open for the key, but an incident of it was merged into another:
            # the survivor takes the key's new events (partial index of migration 12)
            incident_row = await self._one(
                connection,
                f"SELECT {incident_columns(sql)} FROM incidents WHERE id = "
                "(SELECT merged_into_id FROM incidents WHERE correlation_key = ? "
                f"AND merged_into_id IS NOT NULL ORDER BY id DESC LIMIT 1){sql.for_update()}",
                [lookup.correlation_key],
            )
        return State(
            event=_event_state(event_row) if event_row else None,
            incident=incident_state(incident_row) if incident_row else None,
            referenced=await self._referenced(connection, lookup),
            silences=silences,
            ancestor_incidents=await self._ancestors(connection, lookup),
            recent_count=await self._recent_count(connection, lookup),
            recent_incidents=await self._recent_incidents(connection, lookup),
            firing_sources=await self._firing_sources(connection, lookup),
        )

    async def _known_or_read(
        self, known: Row | Unknown | None, connection: QueryRunner, statement: str, key: str
    ) -> Row | None:
        """The row read ahead, or, when there is none to trust, the row read now."""
        if isinstance(known, Unknown):
            return await self._one(connection, statement, [key])
        return known

    async def _one(
        self, connection: QueryRunner, statement: str, values: list[Any]
    ) -> dict[str, Any] | None:
        rows = await connection.execute_query_dict(self.sql(statement), values)
        return rows[0] if rows else None

    async def _incidents_where(
        self, connection: QueryRunner, condition: str, values: list[Any]
    ) -> tuple[IncidentState, ...]:
        rows = await connection.execute_query_dict(
            self.sql(f"SELECT {incident_columns(self.sql)} FROM incidents WHERE {condition}"),
            values,
        )
        return tuple(incident_state(row) for row in rows)

    async def _referenced(
        self, connection: QueryRunner, lookup: Lookup
    ) -> tuple[IncidentState, ...]:
        found: tuple[IncidentState, ...] = ()
        if lookup.incident_keys or lookup.message_ids:
            keys = [key.upper() for key in lookup.incident_keys] or [""]
            ids = list(lookup.message_ids) or [""]
            # a merged incident's key or mail leads to the one it was merged into
            found = await self._incidents_where(
                connection,
                "id IN (SELECT COALESCE(merged_into_id, id) FROM incidents "
                f"WHERE key IN ({marks(keys)}) OR id IN (SELECT incident_id FROM mail_threads "
                f"WHERE message_id IN ({marks(ids)}))) ORDER BY id DESC",
                [*keys, *ids],
            )
        reply = lookup.reply_by_subject
        if found or reply is None:
            return found
        # a reply that lost its key and References: the sender's mail of that subject
        return await self._incidents_where(
            connection,
            "id IN (SELECT incident_id FROM events WHERE source = ? AND resource = ? "
            "AND name = ? AND incident_id IS NOT NULL AND last_seen >= ? "
            "ORDER BY id DESC LIMIT 1)",
            [reply.source, reply.sender, reply.name, self.sql.time(reply.since)],
        )

    async def _ancestors(
        self, connection: QueryRunner, lookup: Lookup
    ) -> tuple[IncidentState, ...]:
        if not lookup.ancestor_cis:
            return ()
        cis = list(lookup.ancestor_cis)
        return await self._incidents_where(
            connection, f"ci IN ({marks(cis)}) AND status IN ('new', 'acknowledged')", cis
        )

    async def _recent_count(self, connection: QueryRunner, lookup: Lookup) -> int:
        if lookup.count_since is None:
            return 0
        row = await self._one(
            connection,
            "SELECT COUNT(*) AS n FROM occurrences WHERE correlation_key = ? AND at >= ?",
            [lookup.correlation_key, self.sql.time(lookup.count_since)],
        )
        return int(row["n"]) if row else 0

    async def _recent_incidents(self, connection: QueryRunner, lookup: Lookup) -> tuple[int, ...]:
        if lookup.recent_incidents_since is None:
            return ()
        rows = await connection.execute_query_dict(
            self.sql(
                "SELECT id FROM incidents WHERE created_at >= ? AND ((ci = ? AND ci <> '') "
                "OR id IN (SELECT incident_id FROM occurrences WHERE fingerprint = ? "
                "AND incident_id IS NOT NULL)) ORDER BY id DESC LIMIT ?"
            ),
            [
                self.sql.time(lookup.recent_incidents_since),
                lookup.ci,
                lookup.fingerprint,
                _RELATED_LIMIT,
            ],
        )
        return tuple(int(row["id"]) for row in rows)

    async def _firing_sources(
        self, connection: QueryRunner, lookup: Lookup
    ) -> tuple[FiringEvent, ...]:
        found: dict[str, FiringEvent] = {}
        for query in lookup.inhibit_queries:
            rows = await connection.execute_query_dict(
                *self._firing_with_labels(query.labels, _FIRING_SOURCES_PER_QUERY)
            )
            for row in rows:
                found[row["fingerprint"]] = FiringEvent(
                    fingerprint=row["fingerprint"],
                    source=row["source"],
                    name=row["name"],
                    resource=row["resource"],
                    severity=Severity(row["severity"]),
                    service=row["service"],
                    ci=row["ci"],
                    labels=as_json(row["labels"]) or {},
                )
        return tuple(found.values())

    def _firing_with_labels(
        self, labels: Iterable[tuple[str, str]], limit: int
    ) -> tuple[str, list[Any]]:
        """The statement reading firing, unsuppressed events that have all ``labels``.

        Through an index on the labels of firing events (PostgreSQL: migration 5;
        SQLite: storage/label_index.py): the cost follows the events that have the
        pairs, not all the events firing.
        """
        pairs = list(labels)
        columns = (
            "e.fingerprint, e.source, e.name, e.resource, e.severity, e.service, e.ci, e.labels"
        )
        firing = "e.status = 'firing' AND e.suppressed_by = ''"
        if not pairs:  # every firing event answers: the limit bounds the reading
            statement = f"SELECT {columns} FROM events AS e WHERE {firing} LIMIT ?"
            return self.sql(statement), [limit]
        if self.sql.postgres:  # the partial GIN index idx_events_firing_labels
            statement = (
                f"SELECT {columns} FROM events AS e WHERE {firing} AND e.labels @> ?::jsonb LIMIT ?"
            )
            return self.sql(statement), [self.sql.json(dict(pairs)), limit]
        # SQLite: each label by the expression the label indexes are on (label_index.py)
        checks = "".join(f" AND {label_equals(name, 'e')}" for name, _ in pairs)
        statement = f"SELECT {columns} FROM events AS e WHERE {firing}{checks} LIMIT ?"
        return statement, [*(value for _, value in pairs), limit]


def marks(values: list[Any]) -> str:
    """``?, ?, ...``: one placeholder per value."""
    return ", ".join("?" for _ in values)
