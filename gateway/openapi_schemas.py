"""The component schemas of the OpenAPI description: what the API's JSON bodies hold."""

from __future__ import annotations

from typing import Any

TIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}

INCIDENT: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "key",
        "title",
        "type",
        "status",
        "priority",
        "impact",
        "urgency",
        "major",
        "service",
        "ci",
        "category",
        "assignment_group",
        "requester",
        "event_count",
        "sla",
        "external_refs",
        "created_at",
        "updated_at",
        "resolved_at",
    ],
    "properties": {
        "id": {"type": "integer"},
        "key": {"type": "string", "examples": ["INC-000123"]},
        "title": {"type": "string"},
        "type": {"enum": ["incident", "service_request", "complaint", "change_request"]},
        "status": {"enum": ["new", "acknowledged", "resolved", "closed"]},
        "priority": {"enum": ["P1", "P2", "P3", "P4"]},
        "impact": {"type": "integer", "minimum": 1, "maximum": 4},
        "urgency": {"type": "integer", "minimum": 1, "maximum": 4},
        "major": {"type": "boolean"},
        "service": {"type": "string"},
        "ci": {"type": "string"},
        "environment": {"type": "string"},
        "category": {"type": "string"},
        "assignment_group": {"type": "string"},
        "requester": {"type": "string"},
        "event_count": {"type": "integer"},
        "firing_events": {"type": "integer"},
        "correlation_key": {"type": "string"},
        "linked_incident_id": {"type": ["integer", "null"]},
        "sla": {
            "type": "object",
            "properties": {
                "response_due": TIME,
                "resolution_due": TIME,
                "response_breached": {"type": "boolean"},
                "resolution_breached": {"type": "boolean"},
            },
        },
        "external_refs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "sink": {"type": "string"},
                    "ticket_id": {"type": "string"},
                    "url": {"type": "string"},
                },
            },
        },
        "created_at": TIME,
        "updated_at": TIME,
        "acknowledged_at": TIME,
        "resolved_at": TIME,
        "closed_at": TIME,
        "resolve_after": {
            **TIME,
            "description": "all its alerts have recovered: it resolves at this time unless "
            "one fires again (the rules' resolve_hold_down)",
        },
    },
}

EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "fingerprint": {"type": "string"},
        "source": {"type": "string"},
        "kind": {"type": "string"},
        "name": {"type": "string"},
        "resource": {"type": "string"},
        "service": {"type": "string"},
        "ci": {"type": "string"},
        "severity": {"enum": ["critical", "high", "medium", "low", "info"]},
        "status": {
            "enum": ["firing", "resolved", "comment"],
            "description": "comment: a mail added to an incident as a comment; not an alert, "
            "it never counts among the incident's firing events",
        },
        "summary": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "count": {"type": "integer"},
        "first_seen": TIME,
        "last_seen": TIME,
        "outcome": {"type": "string"},
        "suppressed_by": {"type": "string"},
        "incident_id": {"type": ["integer", "null"]},
    },
}


DEAD_LETTER: dict[str, Any] = {
    "type": "object",
    "required": ["id", "incident_id", "sink", "action", "attempts", "created_at", "given_up_at"],
    "properties": {
        "id": {"type": "integer"},
        "incident_id": {"type": ["integer", "null"]},
        "sink": {"type": "string"},
        "action": {"type": "string"},
        "idempotency_key": {"type": "string"},
        "attempts": {"type": "integer"},
        "error": {"type": "string"},
        "response": {"type": "string", "description": "what the sink answered"},
        "created_at": TIME,
        "given_up_at": TIME,
    },
}
