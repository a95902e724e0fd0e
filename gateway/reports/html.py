"""The report as one self-contained HTML page: inline SVG charts, inline styles,
nothing fetched (it is read offline, mailed, and printed to PDF). The console
shows the same document (``render_body``) inside its own page."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from gateway.reports import charts

_TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# a chart's title and its SVG -> the markup that shows it
ChartMarkup = Callable[[str, str], Markup]


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


def inline_svg(title: str, svg: str) -> Markup:
    """The SVG itself: the report file has no Content-Security-Policy to keep."""
    return Markup(svg)  # drawn here by pygal from numbers and our titles


def svg_image(title: str, svg: str) -> Markup:
    """The SVG as an image: a page whose policy allows no inline style still shows
    the chart's own styles, and the title is its text alternative."""
    encoded = base64.b64encode(svg.encode()).decode()
    return Markup('<img src="data:image/svg+xml;base64,{}" alt="{}">').format(
        encoded, escape(title)
    )


def _charts(report: dict[str, Any], markup: ChartMarkup) -> dict[str, Markup]:
    target = report["target_compliance"]
    return {
        "volume": markup(
            charts.VOLUME_TITLE, charts.volume_trend(report["volumes"]["incidents_by_day"])
        ),
        "sla": markup(
            charts.sla_title(target), charts.sla_compliance(report["summary"]["sla"], target)
        ),
        "mttr": markup(charts.MTTR_TITLE, charts.mttr_trend(report["mttr"]["resolve_by_day"])),
        "offenders": markup(
            charts.OFFENDERS_TITLE,
            charts.top_offenders(report["offenders"]["ci"], charts.OFFENDERS_TITLE),
        ),
    }


def _as_text(value: str) -> str:
    return value


def render_body(
    report: dict[str, Any],
    markup: ChartMarkup = inline_svg,
    when: Callable[[str], str] = _as_text,
) -> Markup:
    """The report's content (an ``<article class="report">``, styled by report.css);
    ``when`` writes a time (UTC ISO 8601 as given, or the viewer's local time)."""
    template = _environment().get_template("report_body.html.j2")
    return Markup(  # rendered with autoescape
        template.render(
            r=report,
            s=report["summary"],
            charts=_charts(report, markup),
            mttr_rows=_mttr_rows(report["mttr"]),
            when=when,
        )
    )


def render_html(report: dict[str, Any]) -> str:
    css = Markup((STATIC / "report.css").read_text(encoding="utf-8"))
    template = _environment().get_template("report.html.j2")
    return template.render(r=report, css=css, body=render_body(report))
