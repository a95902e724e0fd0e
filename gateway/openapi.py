"""The OpenAPI 3.1 description of the HTTP API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

import gateway
from gateway.api import ActionBody, SilenceBody

_TIME = {"type": ["string", "null"], "format": "date-time"}
_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}

_INCIDENT = {
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
                "response_due": _TIME,
                "resolution_due": _TIME,
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
        "created_at": _TIME,
        "updated_at": _TIME,
        "acknowledged_at": _TIME,
        "resolved_at": _TIME,
        "closed_at": _TIME,
    },
}

_EVENT = {
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
        "status": {"enum": ["firing", "resolved"]},
        "summary": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "count": {"type": "integer"},
        "first_seen": _TIME,
        "last_seen": _TIME,
        "outcome": {"type": "string"},
        "suppressed_by": {"type": "string"},
        "incident_id": {"type": ["integer", "null"]},
    },
}


def _page(item_ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": item_ref}},
            "next_before": {"type": ["integer", "null"], "description": "pass as ?before="},
        },
    }


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _param(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": schema or {"type": "string"},
    }


_IDENT = {
    "name": "ident",
    "in": "path",
    "required": True,
    "description": "numeric id or key (INC-000123)",
    "schema": {"type": "string"},
}
_ERR = {"$ref": "#/components/schemas/Error"}
_PAGING = [
    _param("limit", "page size (max 500)", {"type": "integer", "default": 50}),
    _param("before", "return items with id below this (keyset paging)", {"type": "integer"}),
]


def openapi_document() -> dict[str, Any]:
    action = {"$ref": "#/components/schemas/ActionBody"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "intake-gateway", "version": gateway.__version__},
        "paths": {
            "/api/v1/incidents": {
                "get": {
                    "summary": "List incidents, newest first",
                    "parameters": [
                        _param("status", "comma-separated: new,acknowledged,resolved,closed"),
                        _param("priority", "comma-separated: P1,P2,P3,P4"),
                        _param("service", "exact service name"),
                        _param("type", "incident, service_request, complaint, change_request"),
                        _param("major", "true or false", {"type": "boolean"}),
                        *_PAGING,
                    ],
                    "responses": {
                        "200": _json(_page("#/components/schemas/Incident")),
                        "400": _json(_ERR, "bad filter"),
                    },
                }
            },
            "/api/v1/incidents/{ident}": {
                "get": {
                    "summary": "One incident with its events and timeline",
                    "parameters": [_IDENT],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Incident"}),
                        "404": _json(_ERR, "not found"),
                    },
                }
            },
            "/api/v1/incidents/{ident}/acknowledge": {
                "post": {
                    "summary": "Acknowledge (new -> acknowledged), recorded on the timeline",
                    "parameters": [_IDENT],
                    "requestBody": {"content": {"application/json": {"schema": action}}},
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Incident"}),
                        "404": _json(_ERR, "not found"),
                        "409": _json(_ERR, "wrong state"),
                    },
                }
            },
            "/api/v1/incidents/{ident}/resolve": {
                "post": {
                    "summary": "Resolve, recorded on the timeline",
                    "parameters": [_IDENT],
                    "requestBody": {"content": {"application/json": {"schema": action}}},
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Incident"}),
                        "404": _json(_ERR, "not found"),
                        "409": _json(_ERR, "wrong state"),
                    },
                }
            },
            "/api/v1/events": {
                "get": {
                    "summary": "List events, newest first",
                    "parameters": [
                        _param("status", "firing or resolved"),
                        _param("incident_id", "events of one incident", {"type": "integer"}),
                        _param("source", "integration or mailbox name"),
                        *_PAGING,
                    ],
                    "responses": {"200": _json(_page("#/components/schemas/Event"))},
                }
            },
            "/api/v1/silences": {
                "get": {
                    "summary": "Active and pending silences",
                    "parameters": [
                        _param("include_expired", "also expired ones", {"type": "boolean"})
                    ],
                    "responses": {"200": _json({"type": "object"})},
                },
                "post": {
                    "summary": "Create a silence",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/SilenceBody"}
                            }
                        },
                    },
                    "responses": {
                        "201": _json({"type": "object"}),
                        "400": _json(_ERR, "invalid body"),
                    },
                },
            },
            "/api/v1/silences/{silence_id}": {
                "delete": {
                    "summary": "End a silence now (kept for audit)",
                    "parameters": [
                        {
                            "name": "silence_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": {
                        "200": _json({"type": "object"}),
                        "404": _json(_ERR, "not found"),
                    },
                }
            },
            "/api/v1/reload": {
                "post": {
                    "summary": "Re-read config and rules; keep the old ones if these are invalid",
                    "responses": {
                        "200": _json({"type": "object"}),
                        "422": _json({"type": "object"}, "invalid; problems as file:line"),
                    },
                }
            },
            "/webhooks/{integration}": {
                "post": {
                    "summary": "Intake from a configured integration",
                    "parameters": [
                        {
                            "name": "integration",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "202": _json({"type": "object"}, "committed (or a duplicate delivery)"),
                        "400": _json(_ERR, "payload will never be accepted"),
                        "401": _json(_ERR, "authentication failed"),
                        "404": _json(_ERR, "unknown integration"),
                        "413": _json(_ERR, "too large"),
                        "415": _json(_ERR, "wrong content type"),
                        "429": _json(_ERR, "rate limited; see Retry-After"),
                        "503": _json(_ERR, "storage unavailable; retry after Retry-After"),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Incident": _INCIDENT,
                "Event": _EVENT,
                "Error": _ERROR,
                "ActionBody": ActionBody.model_json_schema(),
                "SilenceBody": SilenceBody.model_json_schema(
                    ref_template="#/components/schemas/{model}"
                ),
                "Matcher": SilenceBody.model_json_schema()["$defs"]["Matcher"],
            }
        },
    }
