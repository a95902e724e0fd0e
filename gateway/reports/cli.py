"""``intake-gateway report``: a service report of a period into a file (html with
charts, pdf printed from it, csv, json), read from the database the daemon writes."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from core.errors import GatewayError
from gateway.reports.csvout import report_csv
from gateway.reports.document import full_report
from gateway.reports.engine import ReportEngine
from gateway.reports.period import BadPeriod, read_period
from storage import Database, Period, Reports, reading

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

    evidence = commands.add_parser("evidence", help="audit evidence of a period")
    evidence_commands = evidence.add_subparsers(dest="evidence_command", required=True)
    export = evidence_commands.add_parser(
        "export",
        help="a zip: incidents (CSV, JSON), a sample of 25 with timelines, the SLA report, "
        "config and rules with hashes, the audit log and its chain verification",
    )
    export.add_argument("--config", help=config_help)
    export.add_argument("--from", dest="start", help="start, ISO 8601 (default: to - 30 days)")
    export.add_argument("--to", dest="end", help="end, exclusive (default: now)")
    export.add_argument("--service", help="only this service")
    export.add_argument("--priority", choices=("P1", "P2", "P3", "P4"), help=argparse.SUPPRESS)
    export.add_argument("--seed", type=int, help="seed of the random sample (to draw it again)")
    export.add_argument("--out", required=True, help="the zip file to write")


Work = Callable[[Database, ReportEngine, Period], Awaitable[dict[str, Any]]]


async def _with_engine(
    runtime: Runtime, args: argparse.Namespace, now: datetime, work: Work
) -> dict[str, Any]:
    """``work`` on the period the arguments name, with the database opened for reading."""
    period = read_period(args.start, args.end, args.service, args.priority, now)
    storage = runtime.loaded.config.storage
    async with reading(storage.url, storage.connect_timeout_seconds) as db:
        engine = ReportEngine(Reports(db), lambda: runtime.ruleset, lambda: now)
        if period.service is not None and not await engine.service_known(period.service):
            raise BadPeriod(f"no such service: {period.service}")
        return await work(db, engine, period)


async def _report(runtime: Runtime, args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    async def work(db: Database, engine: ReportEngine, period: Period) -> dict[str, Any]:
        return await full_report(engine, period, now)

    return await _with_engine(runtime, args, now, work)


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


async def _evidence(runtime: Runtime, args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    from gateway.reports.evidence import export_evidence

    async def work(db: Database, engine: ReportEngine, period: Period) -> dict[str, Any]:
        out = Path(args.out)
        return await export_evidence(db, engine, runtime.loaded, period, out, now, args.seed)

    return await _with_engine(runtime, args, now, work)


def run_evidence(args: argparse.Namespace, runtime: Runtime) -> int:
    """0 written; 1 not written, or written with an audit chain that does not verify
    (the zip says where it breaks); 2 bad period."""
    try:
        manifest = asyncio.run(_evidence(runtime, args, datetime.now(UTC)))
    except BadPeriod as exc:
        print(f"evidence export: {exc}", file=sys.stderr)
        return 2
    except (GatewayError, OSError) as exc:
        print(f"evidence export: {exc}", file=sys.stderr)
        return 1
    chain = manifest["audit_chain"]
    state = (
        f"audit log intact ({chain['rows']} rows)"
        if chain["intact"]
        else f"audit log BROKEN at row {chain['broken_id']}"
    )
    print(
        f"wrote {args.out}: {manifest['incidents']} incidents, sample of "
        f"{manifest['sample']['size']} (seed {manifest['sample']['seed']}), {state}"
    )
    return 0 if chain["intact"] else 1


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
