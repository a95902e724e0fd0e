"""``GET /api/v1/reports/{summary,sla,volumes,mttr,offenders,noise}``: JSON, or CSV by
``?format=csv`` / ``Accept: text/csv``. Mounted on the API application, whose
middleware authorises every /api/v1/ path and turns storage faults into 503."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from gateway.api.jsonbody import json_error, json_response
from gateway.api.params import query_text
from gateway.reports.csvout import report_csv, wants_csv
from gateway.reports.engine import ReportEngine, period_json
from gateway.reports.period import BadPeriod, read_period
from storage import Period

REPORTS = ("summary", "sla", "volumes", "mttr", "offenders", "noise")


class ReportsApi:
    def __init__(self, engine: ReportEngine, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [web.get(f"/api/v1/reports/{name}", self._handler(name)) for name in REPORTS]

    def _handler(self, name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.report(request, name)

        return handle

    def _builder(self, name: str) -> Callable[[Period], Awaitable[dict[str, Any]]]:
        engine = self._engine
        builders: dict[str, Callable[[Period], Awaitable[dict[str, Any]]]] = {
            "summary": engine.summary,
            "sla": engine.sla,
            "volumes": engine.volumes,
            "mttr": engine.mttr,
            "offenders": engine.offenders,
            "noise": engine.noise,
        }
        return builders[name]

    async def report(self, request: web.Request, name: str) -> web.StreamResponse:
        csv = wants_csv(request)
        try:
            period = read_period(
                query_text(request, "from"),
                query_text(request, "to"),
                query_text(request, "service"),
                query_text(request, "priority"),
                self._clock(),
            )
        except BadPeriod as exc:
            return json_error(400, "bad_period", str(exc))
        if period.service is not None and not await self._engine.service_known(period.service):
            return json_error(400, "unknown_service", f"no such service: {period.service[:80]}")
        body = {"report": name, "period": period_json(period)}
        body.update(await self._builder(name)(period))
        if csv:
            return web.Response(
                body=report_csv(body),
                content_type="text/csv",
                charset="utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
            )
        return json_response(body)
