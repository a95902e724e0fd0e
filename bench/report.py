"""The benchmark suite's one table (and its JSON), with the scenarios that did not run.

A figure that was not measured (a latency where none is defined, a peer
that is not installed) is shown as ``-``, never as a zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.common import Figure, Row, machine


@dataclass(frozen=True, slots=True)
class NotRun:
    scenario: str
    reason: str


Outcome = Row | NotRun


def _number(value: float, digits: int = 0) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def _side(figure: Figure | None) -> list[str]:
    if figure is None:
        return ["-", "-", "-", "-"]
    return [
        _number(figure.per_second),
        _number(figure.p50_ms, 1),
        _number(figure.p99_ms, 1),
        _number(figure.peak_rss_mb),
    ]


def table(outcomes: Sequence[Outcome]) -> str:
    header = [
        "scenario",
        "unit",
        "ours",
        "p50 ms",
        "p99 ms",
        "RSS MB",
        "peer",
        "peer",
        "p50 ms",
        "p99 ms",
        "RSS MB",
        "ratio",
        "target",
    ]
    lines: list[list[str]] = []
    notes: list[str] = []
    for outcome in outcomes:
        if isinstance(outcome, NotRun):
            notes.append(f"- {outcome.scenario}: not run: {outcome.reason}")
            continue
        peer = outcome.peer
        ratio = outcome.ratio
        lines.append(
            [
                outcome.scenario,
                outcome.unit,
                *_side(outcome.ours),
                peer.name if peer else "-",
                *_side(peer),
                f"{ratio:.2f}" if ratio is not None and not math.isnan(ratio) else "-",
                outcome.target,
            ]
        )
        for side in (outcome.ours, peer):
            if side is not None and side.errors:
                notes.append(f"- {side.name}: {side.errors} of {side.requests} requests failed")
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    left = {0, 1, 6, 12}

    def render(row: list[str]) -> str:
        cells = (
            cell.ljust(width) if index in left else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        return " | ".join(cells)

    rule = "-+-".join("-" * width for width in widths)
    body = [render(header), rule, *(render(row) for row in lines)]
    return "\n".join([*body, "", *notes])


def print_report(outcomes: Sequence[Outcome], title: str) -> None:
    print(f"\n{title}\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {machine()}\n")
    print(table(outcomes))


def write_json(path: Path, outcomes: Sequence[Outcome], options: dict[str, Any]) -> None:
    def figure(value: Figure | None) -> dict[str, Any] | None:
        if value is None:
            return None
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(value).items()
        }

    rows = [
        {"scenario": o.scenario, "not_run": o.reason}
        if isinstance(o, NotRun)
        else {
            "scenario": o.scenario,
            "unit": o.unit,
            "ours": figure(o.ours),
            "peer": figure(o.peer),
            "ratio": o.ratio,
            "target": o.target,
        }
        for o in outcomes
    ]
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "options": options,
        "rows": rows,
    }
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
