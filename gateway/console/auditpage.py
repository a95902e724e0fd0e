"""The audit log as the console shows it (``/ui/audit``, admins): who did what, how
they came in, to what, newest first, over the last days; and whether the chain is
intact. The rows are read from storage.audit, which writes them with each change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from gateway.console.access import PREFIX, require
from gateway.console.app import Console
from storage import Database, audit

DAYS = (1, 7, 30)
_SHOWN = 2000


class AuditPages:
    def __init__(self, console: Console, db: Database) -> None:
        self._console = console
        self._db = db

    def routes(self) -> list[web.RouteDef]:
        return [web.get(f"{PREFIX}/audit", self.list)]

    async def list(self, request: web.Request) -> web.Response:
        require(request, "admin")
        days = request.query.get("days", "7")
        span = int(days) if days in {str(d) for d in DAYS} else 7
        actor = request.query.get("actor", "")[:128]
        end = datetime.now(UTC)
        rows = await audit.entries(self._db, end - timedelta(days=span), end)
        if actor:
            rows = [row for row in rows if row["actor"] == actor]
        verification = await audit.verify(self._db) if request.query.get("verify") else None
        return self._console.page(
            request,
            "audit.html",
            section="audit",
            rows=list(reversed(rows))[:_SHOWN],
            days=span,
            choices=DAYS,
            actor=actor,
            verification=verification,
        )
