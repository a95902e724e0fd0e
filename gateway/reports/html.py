"""The report as one self-contained HTML page: inline SVG charts, inline styles,
nothing fetched (it is read offline, mailed, and printed to PDF)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from gateway.reports import charts

_TEMPLATES = Path(__file__).parent / "templates"


def duration(seconds: float | None) -> str:
    """3725 -> '1h 2m'; under a minute in seconds; days past 48 hours."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, hours = (whole // 60) % 60, whole // 3600
    if hours >= 48:
        return f"{hours // 24}d {hours % 24}h"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:g}%"


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
    )
    environment.filters["duration"] = duration
    environment.filters["percent"] = percent
    return environment


def _mttr_rows(mttr: dict[str, Any]) -> list[dict[str, Any]]:
    acknowledged = {row["priority"]: row for row in mttr["acknowledge"]}
    rows = []
    for row in mttr["resolve"]:
        ack = acknowledged.get(row["priority"], {"calendar": {"median": None, "p90": None}})
        rows.append(
            {
                "priority": row["priority"],
                "count": row["count"],
                "ack": ack["calendar"],
                "resolve": row,
            }
        )
    return rows


def render_html(report: dict[str, Any]) -> str:
    drawn = {
        "volume": charts.volume_trend(report["volumes"]["incidents_by_day"]),
        "sla": charts.sla_compliance(report["summary"]["sla"], report["target_compliance"]),
        "mttr": charts.mttr_trend(report["mttr"]["resolve_by_day"]),
        "offenders": charts.top_offenders(
            report["offenders"]["ci"], "Top CIs by incidents / 事件最多的配置项"
        ),
    }
    template = _environment().get_template("report.html.j2")
    return template.render(
        r=report, s=report["summary"], charts=drawn, mttr_rows=_mttr_rows(report["mttr"])
    )
