"""Builds the console from the daemon's parts: its routes and middlewares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from gateway.console.access import Access
from gateway.console.actions import ActionPages
from gateway.console.app import Console
from gateway.console.auditpage import AuditPages
from gateway.console.bulk import BulkPages
from gateway.console.deadletters import DeadLetterPages
from gateway.console.explain import ExplainPages
from gateway.console.incidents import IncidentPages
from gateway.console.live import LiveFeed
from gateway.console.reports import ReportPages
from gateway.console.silences import SilencePages, utc_now
from gateway.reload import LastReload
from gateway.reports.engine import ReportEngine
from gateway.runtime import RuntimeHolder
from gateway.web.clientaddr import ClientAddresses
from storage import Actions, BulkActions, Database, Dialect, IncidentEdits, OutboxStore

Middleware = Callable[..., object]


@dataclass(frozen=True, slots=True)
class ConsoleParts:
    routes: list[web.AbstractRouteDef]
    middlewares: list[Middleware]
    on_shutdown: list[Callable[[web.Application], Awaitable[None]]]


def build_console(
    holder: RuntimeHolder,
    db: Database,
    actions: Actions,
    clients: ClientAddresses,
    on_commit: Callable[[], None],
    outbox: OutboxStore,
    reports: ReportEngine,
    last_reload: Callable[[], LastReload | None] = lambda: None,
) -> ConsoleParts:
    access = Access(
        lambda: holder.current.loaded.config.console,
        lambda: holder.current.loaded.secrets.get("console.session_secret"),
        clients,
    )
    console = Console(access)
    postgres = db.dialect is Dialect.POSTGRES
    pages = IncidentPages(
        console,
        postgres,
        lambda: sorted(holder.current.parsers),
        lambda: holder.current.ruleset,
    )
    edits = IncidentEdits(db, on_commit)
    act = ActionPages(console, actions, edits, lambda: holder.current.ruleset.matrix)
    bulk = BulkPages(console, BulkActions(db, actions, edits, on_commit), postgres)
    silences = SilencePages(console, actions, utc_now, db)
    live = LiveFeed()
    explain = ExplainPages(console, lambda: holder.current, last_reload)
    letters = DeadLetterPages(console, outbox, on_commit)
    return ConsoleParts(
        routes=console.routes(
            pages.routes(),
            act.routes(),
            silences.routes(),
            live.routes(),
            explain.routes(),
            letters.routes(),
            bulk.routes(),
            AuditPages(console, db).routes(),
            ReportPages(
                console, reports, lambda: list(holder.current.ruleset.catalogue.services), utc_now
            ).routes(),
        ),
        on_shutdown=[live.close],
        # errors outermost: a refusal from the access check is a page too
        middlewares=[console.errors, access.guard],
    )
