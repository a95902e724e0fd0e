"""``/ui/reports``: the service report (the document ``intake-gateway report`` writes
as HTML) for a period, service and priority, with its JSON, CSV and PDF of the same
period, for every role. The charts are the report's SVG shown as images, so the
console's Content-Security-Policy (no inline style) holds and they still look as
in the file."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from gateway.console.access import PREFIX
from gateway.console.app import Console
from gateway.console.reportform import (
    FormProblem,
    ReportForm,
    period_of,
    quick_choices,
    read_form,
)
from gateway.reports.csvout import report_csv
from gateway.reports.document import full_report
from gateway.reports.engine import ReportEngine
from gateway.reports.html import STATIC, render_body, render_html, svg_image
from gateway.reports.pdf import NoPdfEngine, find_browser, html_to_pdf
from gateway.web.templating import static_routes
from gateway.web.zones import local_time
from storage import Period

_KINDS = {"json": "application/json", "csv": "text/csv", "pdf": "application/pdf"}


def pdf_engine() -> str | None:
    """The browser that prints the PDF, or None: the page then says why there is none."""
    try:
        return find_browser()
    except NoPdfEngine:
        return None


def _pdf_bytes(report: dict[str, Any]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="intake-gateway-console-") as scratch:
        out = Path(scratch) / "report.pdf"
        html_to_pdf(render_html(report), out)
        return out.read_bytes()


class ReportPages:
    def __init__(
        self,
        console: Console,
        engine: ReportEngine,
        services: Callable[[], list[str]],
        clock: Callable[[], datetime],
    ) -> None:
        self._console = console
        self._engine = engine
        self._services = services
        self._clock = clock
        # one browser prints at a time: each takes a few hundred MB for seconds
        self._printing = asyncio.Semaphore(1)

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get(f"{PREFIX}/reports", self.page),
            web.get(f"{PREFIX}/reports/report.{{kind}}", self.download),
            *static_routes(f"{PREFIX}/static/reports", STATIC),
        ]

    async def _period(self, request: web.Request) -> tuple[ReportForm, Period | None, str]:
        """The form, and its period or the reason there is none."""
        viewer = self._console.viewer(request)
        now = self._clock()
        form = read_form(request.query, now.astimezone(viewer.zone).date())
        try:
            period = period_of(form, viewer.zone, now, viewer.translate)
        except FormProblem as problem:
            return form, None, str(problem)
        if period.service is not None and not await self._engine.service_known(period.service):
            return form, None, viewer.translate("No such service: {name}.", name=period.service)
        return form, period, ""

    async def page(self, request: web.Request) -> web.Response:
        form, period, problem = await self._period(request)
        viewer = self._console.viewer(request)
        body = None
        if period is not None:
            report = await full_report(self._engine, period, self._clock())
            body = render_body(report, svg_image, lambda value: local_time(value, viewer.zone))
        today = self._clock().astimezone(viewer.zone).date()
        quick = [
            (label, f"?{form.query(**{'from': first.isoformat(), 'to': last.isoformat()})}")
            for label, first, last in quick_choices(today)
        ]
        return self._console.page(
            request,
            "reports.html",
            status=400 if problem else 200,
            section="reports",
            form=form,
            problem=problem,
            quick=quick,
            report=body,
            services=sorted(self._services()),
            priorities=("P1", "P2", "P3", "P4"),
            downloads={kind: f"{PREFIX}/reports/report.{kind}?{form.query()}" for kind in _KINDS},
            pdf=pdf_engine() is not None,
        )

    async def download(self, request: web.Request) -> web.StreamResponse:
        kind = request.match_info["kind"]
        if kind not in _KINDS:
            raise web.HTTPNotFound(text="a report is json, csv or pdf")
        form, period, problem = await self._period(request)
        if period is None:
            raise web.HTTPBadRequest(text=problem)
        report = await full_report(self._engine, period, self._clock())
        if kind == "json":
            body = orjson.dumps(report, option=orjson.OPT_INDENT_2)
        elif kind == "csv":
            body = report_csv(report)
        else:
            body = await self._pdf(report)
        name = f"service-report-{form.start}-{form.end}.{kind}"
        return web.Response(
            body=body,
            content_type=_KINDS[kind],
            charset=None if kind == "pdf" else "utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    async def _pdf(self, report: dict[str, Any]) -> bytes:
        if pdf_engine() is None:
            raise web.HTTPServiceUnavailable(
                text="no PDF engine on the server: install chromium; JSON and CSV work"
            )
        async with self._printing:
            try:
                # a subprocess that runs for seconds: off the event loop
                return await asyncio.to_thread(_pdf_bytes, report)
            except NoPdfEngine as exc:
                raise web.HTTPServiceUnavailable(text=str(exc)) from None
