"""The OpenAPI 3.1 description of the HTTP interface, served at /api/v1/openapi.json.

It covers every route the daemon serves (a test holds it to the route table
of the real application), and every operation declares the JSON error body
as its ``default`` answer: whatever goes wrong, the answer has that shape.
"""

from __future__ import annotations

from typing import Any

import gateway
from gateway.api.openapi_schemas import DEAD_LETTER, ERROR, EVENT, EXPLANATION, INCIDENT
from gateway.api.params import INT64_MAX, MAX_KEY_LENGTH
from gateway.api.routes import ActionBody, MergeBody, SilenceBody
from gateway.reports.openapi import CSV, FORMAT, report_paths

_ERR = {"$ref": "#/components/schemas/Error"}
_ID = {"type": "integer", "minimum": 0, "maximum": INT64_MAX}
# texts reach the database as they are; PostgreSQL refuses NUL in text
_TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}
_OBJECT = {"type": "object"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _csv_too(schema: dict[str, Any]) -> dict[str, Any]:
    answer = _json(schema)
    return {**answer, "content": {**answer["content"], **CSV}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ERR, description)


_DEFAULT = {"default": _error("any other refusal or fault, with its reason")}
# Every /api/v1/ operation: the token (or loopback) check and the database.
_API_ERRORS = {
    "401": _error("no valid API token (or not from loopback without one)"),
    "503": _error("storage unavailable; retry after Retry-After"),
}
_BAD_PARAMETER = {"400": _error("a parameter that cannot be read")}


def _operation(
    summary: str,
    responses: dict[str, Any],
    *,
    parameters: tuple[dict[str, Any], ...] = (),
    body: dict[str, Any] | None = None,
    api: bool = True,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {**responses, **(_API_ERRORS if api else {}), **_DEFAULT},
    }
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = body
    return operation


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema or _TEXT}


def _path(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    found = {"name": name, "in": "path", "required": True, "schema": schema}
    return {**found, "description": description} if description else found


def _choices(name: str, values: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": f"comma-separated: {','.join(values)}",
        "style": "form",
        "explode": False,
        "schema": {"type": "array", "items": {"enum": values}},
    }


def _page(item_ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_before"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": item_ref}},
            "next_before": {"type": ["integer", "null"], "description": "pass as ?before="},
        },
    }


def _json_body(ref: str, *, required: bool) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": {"$ref": ref}}}}


_IDENT = _path(
    "ident",
    {
        "oneOf": [
            _ID,
            # a key such as INC-000123: anything but digits alone
            {
                "type": "string",
                "pattern": "^(?![0-9]+$)[^\\u0000]+$",
                "maxLength": MAX_KEY_LENGTH,
            },
        ]
    },
    "numeric id or key (INC-000123)",
)
_FLAG = {"type": "boolean"}
_PAGING = (
    _query("limit", "page size; 0 or absent: 50; at most 500", {**_ID, "default": 50}),
    _query("before", "return items with id below this (keyset paging)", _ID),
)
_INCIDENT_REF = {"$ref": "#/components/schemas/Incident"}
_ACTION = _json_body("#/components/schemas/ActionBody", required=False)
_ACTED = {
    "200": _json(_INCIDENT_REF),
    **_BAD_PARAMETER,
    "404": _error("not found"),
    "409": _error("wrong state"),
}


def _api_paths() -> dict[str, Any]:
    return {
        "/api/v1/incidents": {
            "get": _operation(
                "List incidents, newest first (CSV: every match, streamed)",
                {"200": _csv_too(_page("#/components/schemas/Incident")), **_BAD_PARAMETER},
                parameters=(
                    _choices("status", ["new", "acknowledged", "pending", "resolved", "closed"]),
                    _choices("priority", ["P1", "P2", "P3", "P4"]),
                    _query("service", "exact service name"),
                    _query("type", "incident, service_request, complaint, change_request"),
                    _query("major", "true or false", _FLAG),
                    *_PAGING,
                    FORMAT,
                ),
            )
        },
        "/api/v1/incidents/{ident}": {
            "get": _operation(
                "One incident with its events and timeline",
                {"200": _json(_INCIDENT_REF), **_BAD_PARAMETER, "404": _error("not found")},
                parameters=(_IDENT,),
            )
        },
        "/api/v1/incidents/{ident}/acknowledge": {
            "post": _operation(
                "Acknowledge (new or pending -> acknowledged), recorded on the timeline",
                _ACTED,
                parameters=(_IDENT,),
                body=_ACTION,
            )
        },
        "/api/v1/incidents/{ident}/pending": {
            "post": _operation(
                "Waiting on the requester (new or acknowledged -> pending): the SLA clocks "
                "stand still until it is acknowledged or resolved; due times then move on by "
                "the service time waited",
                _ACTED,
                parameters=(_IDENT,),
                body=_ACTION,
            )
        },
        "/api/v1/incidents/{ident}/resolve": {
            "post": _operation(
                "Resolve, recorded on the timeline",
                _ACTED,
                parameters=(_IDENT,),
                body=_ACTION,
            )
        },
        "/api/v1/incidents/{ident}/merge": {
            "post": _operation(
                "Merge this incident (a duplicate) into another (the survivor): its events, "
                "counts and correlation key go to the survivor, it is closed with "
                "merged_into set, its tickets are resolved saying so and the survivor's get "
                "a comment. Refused (409) into itself, from or into a closed or merged "
                "incident (no chains: the answer names the incident to use); 422 when the "
                "survivor does not exist. Asking again for the same pair changes nothing",
                {**_ACTED, "422": _error("no such incident to merge into")},
                parameters=(_IDENT,),
                body=_json_body("#/components/schemas/MergeBody", required=True),
            )
        },
        "/api/v1/events": {
            "get": _operation(
                "List events, newest first (CSV: every match, streamed)",
                {"200": _csv_too(_page("#/components/schemas/Event")), **_BAD_PARAMETER},
                parameters=(
                    _query("status", "firing or resolved"),
                    _query("incident_id", "events of one incident", _ID),
                    _query("source", "integration or mailbox name"),
                    *_PAGING,
                    FORMAT,
                ),
            )
        },
        "/api/v1/silences": {
            "get": _operation(
                "Active and pending silences",
                {"200": _json(_OBJECT), **_BAD_PARAMETER},
                parameters=(_query("include_expired", "also expired ones", _FLAG),),
            ),
            "post": _operation(
                "Create a silence",
                {"201": _json(_OBJECT), "400": _error("invalid body")},
                body=_json_body("#/components/schemas/SilenceBody", required=True),
            ),
        },
        "/api/v1/silences/{silence_id}": {
            "delete": _operation(
                "End a silence now (kept for audit)",
                {"200": _json(_OBJECT), **_BAD_PARAMETER, "404": _error("not found")},
                parameters=(_path("silence_id", _ID),),
            )
        },
        "/api/v1/deadletters": {
            "get": _operation(
                "Forwarding that gave up, newest first, with the sink's answer",
                {"200": _json(_page("#/components/schemas/DeadLetter")), **_BAD_PARAMETER},
                parameters=(_query("sink", "one sink's dead letters"), *_PAGING),
            )
        },
        "/api/v1/deadletters/{row_id}/retry": {
            "post": _operation(
                "Queue a dead letter again; the dispatcher sends it now",
                {"202": _json(_OBJECT), **_BAD_PARAMETER, "404": _error("not found")},
                parameters=(_path("row_id", _ID),),
            )
        },
        "/api/v1/explain": {
            "post": _operation(
                "A dry run: the payload through the parser and rules against the stored "
                "state; nothing is stored",
                {
                    "200": _json({"$ref": "#/components/schemas/Explanation"}),
                    **_BAD_PARAMETER,
                    "413": _error("too large"),
                    "415": _error("wrong content encoding"),
                    "422": _error("the parser refuses the payload, or the database its rows"),
                },
                parameters=(
                    _query("integration", "the integration or mailbox the payload is for"),
                    _query("mail_from", "a mail's SMTP envelope sender (MAIL FROM)"),
                ),
                body=_PAYLOAD,
            )
        },
        "/api/v1/reload": {
            "post": _operation(
                "Re-read config and rules; keep the old ones if these are invalid",
                {"200": _json(_OBJECT), "422": _json(_OBJECT, "invalid; problems as file:line")},
            )
        },
        "/api/v1/openapi.json": {
            "get": _operation("This description", {"200": _json(_OBJECT)}, api=False)
        },
    }


# what a sender sends: a webhook body or a raw mail
_PAYLOAD = {
    "required": True,
    "content": {
        "application/json": {"schema": {}},
        "application/x-www-form-urlencoded": {"schema": _OBJECT},
        "message/rfc822": {"schema": {"type": "string"}},
    },
}


def _intake_paths() -> dict[str, Any]:
    any_body = _PAYLOAD
    return {
        "/webhooks/{integration}": {
            "post": _operation(
                "Intake from a configured integration",
                {
                    "202": _json(_OBJECT, "committed (or a duplicate delivery)"),
                    "400": _error("payload will never be accepted"),
                    "401": _error(
                        "authentication failed: missing_credentials, bad_credentials, "
                        "missing_signature, bad_signature, stale_signature (outside the "
                        "replay window), replayed_signature (this signature was already "
                        "accepted; sign every request anew)"
                    ),
                    "404": _error("unknown integration"),
                    "413": _error("too large"),
                    "415": _error("wrong content type or encoding"),
                    "429": _error("rate limited; see Retry-After"),
                    "503": _error("storage unavailable; retry after Retry-After"),
                },
                parameters=(_path("integration", _TEXT),),
                body=any_body,
                api=False,
            )
        },
        "/hooks/{kind}/{sink}": {
            "post": _operation(
                "Status changes back from a ticket system (Jira, Zammad, generic)",
                {
                    "200": _json(_OBJECT, "what changed"),
                    "202": _json(_OBJECT, "nothing to act on"),
                    "400": _error("not what the system sends"),
                    "401": _error("bad token or signature"),
                    "404": _error("unknown hook, sink or ticket"),
                    "503": _error("storage unavailable; the system retries"),
                },
                parameters=(
                    _path("kind", {"enum": ["jira", "zammad", "generic"]}),
                    _path("sink", _TEXT, "a sink with an inbound section"),
                ),
                body={"required": True, "content": {"application/json": {"schema": _OBJECT}}},
                api=False,
            )
        },
    }


def _health_paths() -> dict[str, Any]:
    status = {"type": "object", "required": ["status"]}
    return {
        "/healthz": {"get": _operation("The process is alive", {"200": _json(status)}, api=False)},
        "/readyz": {
            "get": _operation(
                "Ready: the database answers and the listeners are bound",
                {"200": _json(status), "503": _json(status, "not ready; see checks")},
                api=False,
            )
        },
        "/metrics": {
            "get": _operation(
                "Prometheus metrics",
                {"200": {"description": "text format", "content": {"text/plain": {}}}},
                api=False,
            )
        },
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "intake-gateway", "version": gateway.__version__},
        "paths": {
            **_health_paths(),
            **_intake_paths(),
            **_api_paths(),
            **report_paths({**_API_ERRORS, **_DEFAULT}),
        },
        "components": {
            "schemas": {
                "Incident": INCIDENT,
                "Event": EVENT,
                "DeadLetter": DEAD_LETTER,
                "Explanation": EXPLANATION,
                "Error": ERROR,
                "ActionBody": ActionBody.model_json_schema(),
                "MergeBody": MergeBody.model_json_schema(),
                "SilenceBody": SilenceBody.model_json_schema(
                    ref_template="#/components/schemas/{model}"
                ),
                "Matcher": SilenceBody.model_json_schema()["$defs"]["Matcher"],
            }
        },
    }
