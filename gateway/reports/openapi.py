"""The reports' part of the OpenAPI description, and the CSV form that the reports and
the incident and event listings share."""

from __future__ import annotations

from typing import Any

from gateway.reports.api import REPORTS
from gateway.reports.period import MAX_DAYS, MOMENT

_TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}
_ERR = {"$ref": "#/components/schemas/Error"}
FORMAT = {
    "name": "format",
    "in": "query",
    "description": "csv for CSV (as does Accept: text/csv); json by default",
    "schema": {"enum": ["json", "csv"]},
}
CSV = {"text/csv": {"schema": {"type": "string"}}}

_SUMMARIES = {
    "summary": "Key figures of the period: volumes, reopen rate, MTTA/MTTR, SLA, noise",
    "sla": "SLA compliance per priority and service, targets, breaches and how long over",
    "volumes": "Incidents by type, category, service, priority and day; events by source; "
    "intake by channel",
    "mttr": "Time to acknowledge and to resolve: median and p90, calendar and service time",
    "offenders": "Top CIs, alert names and sender domains",
    "noise": "Intake records -> events -> incidents, and what was held back, by reason",
}


_MOMENT = {"type": "string", "pattern": MOMENT}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema or _TEXT}


_PARAMETERS = [
    _query(
        "from", "start (ISO 8601 date or time, UTC when no offset); default: to - 30 days", _MOMENT
    ),
    _query("to", f"end, exclusive; default now; at most {MAX_DAYS} days after from", _MOMENT),
    _query("service", "only this service (400 when no such service is known)"),
    {
        "name": "priority",
        "in": "query",
        "description": "only this priority; empty (as a form sends it): every priority",
        "schema": {"enum": ["P1", "P2", "P3", "P4", ""]},
    },
    FORMAT,
]


def report_paths(errors: dict[str, Any]) -> dict[str, Any]:
    """``errors``: the answers every /api/v1/ operation shares (401, 503, default)."""
    return {
        f"/api/v1/reports/{name}": {
            "get": {
                "summary": _SUMMARIES[name],
                "parameters": _PARAMETERS,
                "responses": {
                    "200": {
                        "description": "the report (docs/reports.md defines every figure)",
                        "content": {"application/json": {"schema": {"type": "object"}}, **CSV},
                    },
                    "400": {
                        "description": "from after to, a period over the limit, an unknown "
                        "service, or a parameter that cannot be read",
                        "content": {"application/json": {"schema": _ERR}},
                    },
                    **errors,
                },
            }
        }
        for name in REPORTS
    }
