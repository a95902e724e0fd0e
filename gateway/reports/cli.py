"""``intake-gateway report``: a service report of a period into a file (html with
charts, pdf printed from it, csv, json), read from the database the daemon writes."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from gateway.errors import GatewayError
from gateway.reports.csvout import report_csv
from gateway.reports.document import full_report
from gateway.reports.engine import ReportEngine
from gateway.reports.period import BadPeriod, read_period
from storage.database import reading
from storage.reports import Reports

if TYPE_CHECKING:
    from gateway.runtime import Runtime

FORMATS = ("html", "pdf", "csv", "json")


def add_commands(commands: Any, config_help: str) -> None:
    report = commands.add_parser("report", help="a service report of a period into a file")
    report.add_argument("--config", help=config_help)
    report.add_argument("--from", dest="start", help="start, ISO 8601 (default: to - 30 days)")
    report.add_argument("--to", dest="end", help="end, exclusive (default: now)")
    report.add_argument("--service", help="only this service")
    report.add_argument("--priority", choices=("P1", "P2", "P3", "P4"), help="only this priority")
    report.add_argument("--format", choices=FORMATS, default="html")
    report.add_argument("--out", required=True, help="the file to write")


async def _report(runtime: Runtime, args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    period = read_period(args.start, args.end, args.service, args.priority, now)
    storage = runtime.loaded.config.storage
    async with reading(storage.url, storage.connect_timeout_seconds) as db:
        engine = ReportEngine(Reports(db), lambda: runtime.ruleset, lambda: now)
        if period.service is not None and not await engine.service_known(period.service):
            raise BadPeriod(f"no such service: {period.service}")
        return await full_report(engine, period, now)


def write_report(report: dict[str, Any], form: str, out: Path) -> None:
    from gateway.reports.html import render_html

    if form == "json":
        out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    elif form == "csv":
        out.write_bytes(report_csv(report))
    elif form == "html":
        out.write_text(render_html(report), encoding="utf-8")
    else:
        from gateway.reports.pdf import html_to_pdf

        html_to_pdf(render_html(report), out)


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    """0 written; 1 the report could not be made (no database, no PDF engine); 2 bad
    period or filter."""
    from gateway.reports.pdf import NoPdfEngine, find_browser

    out = Path(args.out)
    try:
        if args.format == "pdf":
            find_browser()  # before the work: say at once when no PDF can be made
        report = asyncio.run(_report(runtime, args, datetime.now(UTC)))
        write_report(report, args.format, out)
    except BadPeriod as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    except (GatewayError, NoPdfEngine, OSError) as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    summary = report["summary"]
    print(f"wrote {out} ({args.format}: {summary['incidents']} incidents)")
    return 0
