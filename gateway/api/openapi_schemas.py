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
        "status": {"enum": ["new", "acknowledged", "pending", "resolved", "closed"]},
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
        "merged_into_id": {
            "type": ["integer", "null"],
            "description": "closed as a duplicate of this incident (merged)",
        },
        "merged_into": {"type": ["string", "null"], "examples": ["INC-000124"]},
        "sla": {
            "type": "object",
            "properties": {
                "response_due": TIME,
                "resolution_due": TIME,
                "response_breached": {"type": "boolean"},
                "resolution_breached": {"type": "boolean"},
                "calendar": {
                    "type": ["string", "null"],
                    "description": "the calendar of the SLA target the due times were set "
                    "from, by which its service time is counted",
                },
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
        "pending_since": TIME,
        "resolve_after": {
            **TIME,
            "description": "all its alerts have recovered: it resolves at this time unless "
            "one fires again (the rules' resolve_hold_down)",
        },
        "rating": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 5,
            "description": "the requester's satisfaction rating from the survey (1-5), given "
            "once on the status page; null until then",
        },
        "rated_at": TIME,
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

_STRING = {"type": "string"}
_STRINGS = {"type": "array", "items": _STRING}
CHARSET_FINDING: dict[str, Any] = {
    "type": "object",
    "required": ["part", "declared", "declared_fits", "needs", "detected", "decoded_as"],
    "properties": {
        "part": {"enum": ["text/plain", "text/html"]},
        "declared": {**_STRING, "description": "the declared charset; empty: none"},
        "declared_fits": {
            "type": ["boolean", "null"],
            "description": "the bytes are valid in it; null: nothing or no known charset",
        },
        "needs": {**_STRING, "description": "the narrowest related charset the bytes need"},
        "detected": _STRING,
        "decoded_as": {**_STRING, "description": "the codec the parser read the part with"},
        "defect": _STRING,
        "verdict": _STRING,
    },
}
EXPLANATION: dict[str, Any] = {
    "type": "object",
    "required": ["integration", "kind", "at", "rules_version", "stored", "charsets", "events"],
    "properties": {
        "integration": {**_STRING, "description": "the integration or mailbox it was read as"},
        "kind": _STRING,
        "at": TIME,
        "rules_version": _STRING,
        "stored": {"const": False},
        "charsets": {
            "type": ["array", "null"],
            "items": CHARSET_FINDING,
            "description": "a mail's body parts; null for other payloads",
        },
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["event", "decision"],
                "properties": {
                    "event": {"type": "object"},
                    "decision": {
                        "type": "object",
                        "required": [
                            "fingerprint",
                            "correlation_key",
                            "outcome",
                            "action",
                            "matched_rules",
                            "priority",
                            "routes",
                        ],
                        "properties": {
                            "fingerprint": _STRING,
                            "correlation_key": _STRING,
                            "outcome": _STRING,
                            "action": _STRING,
                            "incident_key": {"type": ["string", "null"]},
                            "matched_rules": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "name": _STRING,
                                        "where": {**_STRING, "description": "file:line"},
                                    },
                                },
                            },
                            "suppressed_by": _STRING,
                            "priority": {"enum": ["P1", "P2", "P3", "P4"]},
                            "routes": _STRINGS,
                        },
                    },
                },
            },
        },
    },
}
