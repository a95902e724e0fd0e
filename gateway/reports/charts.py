"""The report's charts as SVG drawn here on the server with pygal: no script, no CDN,
nothing for the browser or the PDF engine to fetch."""

from __future__ import annotations

import re
from typing import Any

import pygal
from pygal.style import Style

_STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#222",
    foreground_strong="#111",
    foreground_subtle="#666",
    colors=("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"),
    font_family="sans-serif",
    no_data_font_size=18,
)


def _config(chart: Any, title: str) -> Any:
    chart.title = title
    chart.js = []  # pygal's tooltips load a script from a CDN: none here
    chart.disable_xml_declaration = True
    chart.width, chart.height = 760, 320
    chart.explicit_size = True
    chart.print_values = False
    chart.show_legend = True
    chart.legend_at_bottom = True
    chart.no_data_text = "no data / 无数据"
    return chart


# pygal writes its config for the tooltip script as an inline script even without
# the script, and its home page in a comment: a static chart needs neither
_SCRIPT = re.compile(r"<script\b.*?</script>|<!--.*?-->", re.S)


def _render(chart: Any) -> str:
    svg: str = chart.render(is_unicode=True)
    return _SCRIPT.sub("", svg)


def _by_day(kind: Any, title: str, days: list[str]) -> Any:
    """A chart over days, every tenth day or so labelled."""
    chart = _config(kind(style=_STYLE, x_label_rotation=45, show_minor_x_labels=False), title)
    chart.x_labels = days
    chart.x_labels_major_every = max(1, len(days) // 10)
    return chart


VOLUME_TITLE = "Incidents per day / 每日事件数"
MTTR_TITLE = "Median time to resolve (hours) by day opened / 解决时间中位数 (小时)"
OFFENDERS_TITLE = "Top CIs by incidents / 事件最多的配置项"


def sla_title(target: float) -> str:
    return f"SLA compliance by priority, target {target:g}% / 各优先级 SLA 达成率"


def volume_trend(by_day: list[dict[str, Any]]) -> str:
    days = [row["key"] for row in by_day]
    chart = _by_day(pygal.Bar, VOLUME_TITLE, days)
    chart.add("incidents / 事件", [int(row["count"]) for row in by_day])
    return _render(chart)


def sla_compliance(by_priority: list[dict[str, Any]], target: float) -> str:
    chart = _config(pygal.Bar(style=_STYLE, range=(0, 100)), sla_title(target))
    chart.x_labels = [row["priority"] for row in by_priority]
    for clock, label in (("response", "response / 响应"), ("resolution", "resolution / 解决")):
        chart.add(label, [row[f"{clock}_compliance"] for row in by_priority])
    chart.add(f"target / 目标 {target:g}%", [target] * len(by_priority))
    return _render(chart)


def mttr_trend(by_day: list[dict[str, Any]]) -> str:
    chart = _by_day(pygal.Line, MTTR_TITLE, [row["day"] for row in by_day])
    chart.add(
        "MTTR median / 中位数",
        [None if row["median"] is None else round(row["median"] / 3600, 2) for row in by_day],
    )
    return _render(chart)


def top_offenders(rows: list[dict[str, Any]], title: str) -> str:
    chart = _config(pygal.HorizontalBar(style=_STYLE), title)
    chart.show_legend = False
    chart.x_labels = [str(row["key"])[:40] for row in reversed(rows)]
    chart.add("count", [int(row["count"]) for row in reversed(rows)])
    return _render(chart)
