"""Read models for the API: incidents, events, timeline, in the JSON contract's shape.

Lists are keyset-paged (``before`` = the last id seen, newest first), which
stays fast however deep an operator pages, and every filter has an index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.models import Model

from storage import models
from storage.database import Dialect, reads_database
from storage.incident_state import incident_key
from storage.sql import Sql, as_json, as_time

# A row as the ORM gives it (a model) or as plain SQL does (a mapping of columns).
Row = models.Incident | models.ExternalRef | models.Event | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    status: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    service: str | None = None
    type: str | None = None
    major: bool | None = None
    before: int | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class EventFilter:
    status: str | None = None
    incident_id: int | None = None
    source: str | None = None
    before: int | None = None
    limit: int = 50


def _time(value: datetime | str | None) -> str | None:
    """A time as the API writes it: ISO 8601 in UTC with Z, microseconds only if any."""
    if isinstance(value, str):
        # plain SQL on SQLite gives times as the text storage wrote them; that text is
        # rewritten directly (a 500-row page has 3,500 of them), anything else parsed
        if len(value) == 32 and value[10] == " " and value[26:] == "+00:00":
            if value[20:26] == "000000":  # concatenation: cheaper than an f-string here
                return value[:10] + "T" + value[11:19] + "Z"
            return value[:10] + "T" + value[11:26] + "Z"
        moment = as_time(value)
    else:
        moment = value
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _reader(row: Row) -> Callable[[str], Any]:
    if isinstance(row, Model):
        return lambda name: getattr(row, name)
    return row.__getitem__  # a dict, or a driver's row (read by column name)


def incident_json(row: Row, refs: Sequence[Row]) -> dict[str, Any]:
    get = _reader(row)
    return {
        "id": get("id"),
        "key": get("key"),
        "title": get("title"),
        "type": get("type"),
        "status": get("status"),
        "priority": get("priority"),
        "impact": get("impact"),
        "urgency": get("urgency"),
        "major": bool(get("major")),
        "service": get("service"),
        "ci": get("ci"),
        "environment": get("environment"),
        "category": get("category"),
        "assignment_group": get("assignment_group"),
        "requester": get("requester"),
        "event_count": get("event_count"),
        "firing_events": get("firing_events"),
        "correlation_key": get("correlation_key"),
        "linked_incident_id": get("linked_incident_id"),
        # closed as a duplicate of this incident (merged): its id and key
        "merged_into_id": get("merged_into_id"),
        "merged_into": _key_of(get("merged_into_id")),
        "sla": {
            "response_due": _time(get("response_due")),
            "resolution_due": _time(get("resolution_due")),
            "response_breached": bool(get("response_breached")),
            "resolution_breached": bool(get("resolution_breached")),
            # the calendar of the target the due times were set from
            "calendar": get("sla_calendar"),
        },
        "external_refs": [_ref_json(_reader(ref)) for ref in refs],
        "created_at": _time(get("created_at")),
        "updated_at": _time(get("updated_at")),
        "acknowledged_at": _time(get("acknowledged_at")),
        "resolved_at": _time(get("resolved_at")),
        "closed_at": _time(get("closed_at")),
        "pending_since": _time(get("pending_since")),
        # all its alerts recovered: it resolves then unless one fires again (hold-down)
        "resolve_after": _time(get("resolve_after")),
        # the requester's satisfaction rating (1-5) from the survey, given once
        "rating": get("rating"),
        "rated_at": _time(get("rated_at")),
    }


def _key_of(incident_id: int | None) -> str | None:
    return None if incident_id is None else incident_key(int(incident_id))


def _ref_json(get: Callable[[str], Any]) -> dict[str, Any]:
    return {"sink": get("sink"), "ticket_id": get("ticket_id"), "url": get("url")}


_INCIDENT_COLUMNS = (
    "id, key, title, type, status, priority, impact, urgency, major, service, ci, "
    "environment, category, assignment_group, requester, event_count, firing_events, "
    "correlation_key, linked_incident_id, merged_into_id, response_due, resolution_due, "
    "response_breached, resolution_breached, sla_calendar, created_at, updated_at, "
    "acknowledged_at, resolved_at, closed_at, resolve_after, rating, rated_at, pending_since"
)


def event_json(row: models.Event | Mapping[str, Any]) -> dict[str, Any]:
    get = _reader(row)
    return {
        "id": get("id"),
        "fingerprint": get("fingerprint"),
        "source": get("source"),
        "kind": get("kind"),
        "name": get("name"),
        "resource": get("resource"),
        "service": get("service"),
        "ci": get("ci"),
        "environment": get("environment"),
        "severity": get("severity"),
        "status": get("status"),
        "summary": get("summary"),
        "description": get("description"),
        # plain SQL gives JSON as text
        "labels": as_json(get("labels")),
        "url": get("url"),
        "count": get("count"),
        "first_seen": _time(get("first_seen")),
        "last_seen": _time(get("last_seen")),
        "outcome": get("last_outcome"),
        "suppressed_by": get("suppressed_by"),
        "flapping": bool(get("flapping")),
        "incident_id": get("incident_id"),
    }


_EVENT_COLUMNS = (
    "id, fingerprint, source, kind, name, resource, service, ci, environment, severity, "
    "status, summary, description, labels, url, count, first_seen, last_seen, last_outcome, "
    "suppressed_by, flapping, incident_id"
)


def timeline_json(row: models.TimelineEntry) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": _time(row.at),
        "kind": row.kind,
        "author": row.author,
        "text": row.text,
        "data": row.data,
        "visibility": row.visibility,
    }


async def _refs_by_incident(ids: list[int]) -> dict[int, list[Row]]:
    found: dict[int, list[Row]] = {}
    if ids:
        rows = await _query(
            "SELECT incident_id, sink, ticket_id, url FROM external_refs "
            f"WHERE incident_id IN ({', '.join('?' for _ in ids)}) ORDER BY id",
            ids,
        )
        for row in rows:
            found.setdefault(int(row["incident_id"]), []).append(row)
    return found


@reads_database("reading incidents")
async def list_incidents(query: IncidentFilter) -> list[dict[str, Any]]:
    """A page of incidents, newest first."""
    rows, refs = await incident_rows(query)
    return [incident_json(row, refs.get(int(row["id"]), [])) for row in rows]


@reads_database("reading incidents")
async def incident_rows(
    query: IncidentFilter,
) -> tuple[list[Any], dict[int, list[Row]]]:
    """A page of incidents as plain rows, newest first, and their ticket references by
    incident id (what ``incident_json`` turns into the API's form)."""
    where: list[str] = []
    values: list[Any] = []
    for column, chosen in (("status", query.status), ("priority", query.priority)):
        if chosen:
            where.append(f"{column} IN ({', '.join('?' for _ in chosen)})")
            values.extend(chosen)
    for column, value in (("service", query.service), ("type", query.type)):
        if value is not None:
            where.append(f"{column} = ?")
            values.append(value)
    if query.major is not None:
        where.append("major = ?")
        values.append(query.major)
    if query.before is not None:
        where.append("id < ?")
        values.append(query.before)
    rows = await _newest_first("incidents", _INCIDENT_COLUMNS, where, values, query.limit)
    return rows, await _refs_by_incident([int(row["id"]) for row in rows])


async def _newest_first(
    table: str, columns: str, where: list[str], values: list[Any], limit: int
) -> list[Any]:
    """A page of plain rows as the driver gives them (read by column name, as a dict
    is; a 5,000-row page spent more time making dicts of them than reading them): a
    500-row page built from ORM objects spent most of its time creating them."""
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    client = models.Incident._meta.db
    sql = Sql(Dialect.POSTGRES if client.capabilities.dialect == "postgres" else Dialect.SQLITE)
    _, rows = await client.execute_query(
        sql(f"SELECT {columns} FROM {table}{condition} ORDER BY id DESC LIMIT ?"),
        [*values, limit],
    )
    return list(rows)


async def _query(statement: str, values: list[Any]) -> list[dict[str, Any]]:
    """Plain rows of a statement written with ``?`` markers, on either engine."""
    client = models.Incident._meta.db
    sql = Sql(Dialect.POSTGRES if client.capabilities.dialect == "postgres" else Dialect.SQLITE)
    return await client.execute_query_dict(sql(statement), values)


def incident_lookup(ident: int | str) -> Q:
    """The condition for an incident named by its numeric id or by its key (INC-000123).

    A text of ASCII digits is an id too; one past the id column's range names
    nothing (the database would refuse it as a parameter).
    """
    if isinstance(ident, str) and ident.isascii() and ident.isdigit():
        digits = ident.lstrip("0") or "0"
        ident = int(digits) if len(digits) <= 19 and int(digits) < 1 << 63 else -1
    return Q(id=ident) if isinstance(ident, int) else Q(key=ident.upper())


@reads_database("reading incident")
async def get_incident(ident: int | str) -> dict[str, Any] | None:
    """One incident by numeric id or by key, with events and timeline."""
    row = await models.Incident.filter(incident_lookup(ident)).first()
    if row is None:
        return None
    refs = await _refs_by_incident([row.id])
    body = incident_json(row, refs.get(row.id, []))
    events = await models.Event.filter(incident_id=row.id).order_by("-id").limit(500)
    timeline = await models.TimelineEntry.filter(incident_id=row.id).order_by("id").limit(1000)
    body["events"] = [event_json(event) for event in events]
    body["timeline"] = [timeline_json(entry) for entry in timeline]
    return body


@reads_database("reading events")
async def list_events(query: EventFilter) -> list[dict[str, Any]]:
    """A page of events, newest first."""
    return [event_json(row) for row in await event_rows(query)]


@reads_database("reading events")
async def event_rows(query: EventFilter) -> list[Any]:
    """A page of events as plain rows, newest first (``event_json`` gives the API's form)."""
    where: list[str] = []
    values: list[Any] = []
    for column, value in (
        ("status", query.status),
        ("incident_id", query.incident_id),
        ("source", query.source),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            values.append(value)
    if query.before is not None:
        where.append("id < ?")
        values.append(query.before)
    return await _newest_first("events", _EVENT_COLUMNS, where, values, query.limit)
