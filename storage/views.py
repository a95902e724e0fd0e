"""Read models for the API: incidents, events, timeline, in the JSON contract's shape.

Lists are keyset-paged (``before`` = the last id seen, newest first), which
stays fast however deep an operator pages, and every filter has an index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import Q

from storage import models


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


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def incident_json(row: models.Incident, refs: list[models.ExternalRef]) -> dict[str, Any]:
    return {
        "id": row.id,
        "key": row.key,
        "title": row.title,
        "type": row.type,
        "status": row.status,
        "priority": row.priority,
        "impact": row.impact,
        "urgency": row.urgency,
        "major": row.major,
        "service": row.service,
        "ci": row.ci,
        "environment": row.environment,
        "category": row.category,
        "assignment_group": row.assignment_group,
        "requester": row.requester,
        "event_count": row.event_count,
        "firing_events": row.firing_events,
        "correlation_key": row.correlation_key,
        "linked_incident_id": row.linked_incident_id,
        "sla": {
            "response_due": _time(row.response_due),
            "resolution_due": _time(row.resolution_due),
            "response_breached": row.response_breached,
            "resolution_breached": row.resolution_breached,
        },
        "external_refs": [
            {"sink": ref.sink, "ticket_id": ref.ticket_id, "url": ref.url} for ref in refs
        ],
        "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at),
        "acknowledged_at": _time(row.acknowledged_at),
        "resolved_at": _time(row.resolved_at),
        "closed_at": _time(row.closed_at),
    }


def event_json(row: models.Event) -> dict[str, Any]:
    return {
        "id": row.id,
        "fingerprint": row.fingerprint,
        "source": row.source,
        "kind": row.kind,
        "name": row.name,
        "resource": row.resource,
        "service": row.service,
        "ci": row.ci,
        "environment": row.environment,
        "severity": row.severity,
        "status": row.status,
        "summary": row.summary,
        "description": row.description,
        "labels": row.labels,
        "url": row.url,
        "count": row.count,
        "first_seen": _time(row.first_seen),
        "last_seen": _time(row.last_seen),
        "outcome": row.last_outcome,
        "suppressed_by": row.suppressed_by,
        "flapping": row.flapping,
        "incident_id": row.incident_id,
    }


def timeline_json(row: models.TimelineEntry) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": _time(row.at),
        "kind": row.kind,
        "author": row.author,
        "text": row.text,
        "data": row.data,
    }


async def _refs_by_incident(ids: list[int]) -> dict[int, list[models.ExternalRef]]:
    found: dict[int, list[models.ExternalRef]] = {}
    if ids:
        for ref in await models.ExternalRef.filter(incident_id__in=ids):
            found.setdefault(ref.incident_id, []).append(ref)
    return found


async def list_incidents(query: IncidentFilter) -> list[dict[str, Any]]:
    condition = Q()
    if query.status:
        condition &= Q(status__in=list(query.status))
    if query.priority:
        condition &= Q(priority__in=list(query.priority))
    if query.service is not None:
        condition &= Q(service=query.service)
    if query.type is not None:
        condition &= Q(type=query.type)
    if query.major is not None:
        condition &= Q(major=query.major)
    if query.before is not None:
        condition &= Q(id__lt=query.before)
    rows = await models.Incident.filter(condition).order_by("-id").limit(query.limit)
    refs = await _refs_by_incident([row.id for row in rows])
    return [incident_json(row, refs.get(row.id, [])) for row in rows]


async def get_incident(ident: str) -> dict[str, Any] | None:
    """One incident by numeric id or by key (INC-000123), with events and timeline."""
    condition = Q(id=int(ident)) if ident.isdigit() else Q(key=ident.upper())
    row = await models.Incident.filter(condition).first()
    if row is None:
        return None
    refs = await _refs_by_incident([row.id])
    body = incident_json(row, refs.get(row.id, []))
    events = await models.Event.filter(incident_id=row.id).order_by("-id").limit(500)
    timeline = await models.TimelineEntry.filter(incident_id=row.id).order_by("id").limit(1000)
    body["events"] = [event_json(event) for event in events]
    body["timeline"] = [timeline_json(entry) for entry in timeline]
    return body


async def list_events(query: EventFilter) -> list[dict[str, Any]]:
    condition = Q()
    if query.status is not None:
        condition &= Q(status=query.status)
    if query.incident_id is not None:
        condition &= Q(incident_id=query.incident_id)
    if query.source is not None:
        condition &= Q(source=query.source)
    if query.before is not None:
        condition &= Q(id__lt=query.before)
    rows = await models.Event.filter(condition).order_by("-id").limit(query.limit)
    return [event_json(row) for row in rows]
