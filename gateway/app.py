"""The one place that wires everything together.

``build(loaded) -> Services`` constructs objects and does no I/O.
``Services.started()`` enters each resource in order (database, schema,
intake writer, pipeline, SMTP listener, IMAP poller, HTTP listener) and
leaves them in reverse; the main loop that runs them is gateway/daemon.py.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
import structlog
from aiohttp import web

import gateway
from core.errors import StorageUnavailable
from gateway.api.deadletters import DeadLettersApi
from gateway.api.explain import ExplainApi
from gateway.api.http import bound_addresses, build_http_app
from gateway.api.httperrors import JsonErrorRunner
from gateway.api.routes import Api
from gateway.config.model import LoadedConfig
from gateway.console.wiring import ConsoleParts, build_console
from gateway.forwarding.dispatcher import OutboxDispatcher, build_dispatcher
from gateway.forwarding.inbound import InboundHooks
from gateway.intake.imap import ImapPoller
from gateway.intake.mailintake import MailIntake
from gateway.intake.smtp import SmtpListener, SmtpSettings
from gateway.intake.smtp_handler import MailHandler
from gateway.intake.webhooks import WebhookIntake
from gateway.jobs.heartbeats import HeartbeatMonitor
from gateway.jobs.periodic import PeriodicJobs
from gateway.jobs.retention import RetentionJob
from gateway.listencheck import check_listeners
from gateway.metrics import Metrics
from gateway.portal.notify import RequesterNotifier
from gateway.portal.site import Portal, PortalWiring, build_portal, link_signer
from gateway.processing.parsepool import default_workers
from gateway.processing.pipeline import Pipeline, PipelineSettings
from gateway.reload import Reloader
from gateway.reports.api import ReportsApi
from gateway.reports.engine import ReportEngine
from gateway.reports.metrics import IncidentTimes
from gateway.reports.schedule import MonthlyReport
from gateway.runtime import Runtime, RuntimeHolder, compile_runtime
from gateway.systemd import Notifier
from gateway.web.clientaddr import ClientAddresses, networks
from storage import (
    Actions,
    Database,
    DatabaseSettings,
    HeartbeatStore,
    IncidentStore,
    IntakeWriter,
    LeaseStore,
    Operator,
    OutboxStore,
    PeriodicStore,
    RecordStore,
    Reports,
    RequesterMail,
    RetentionStore,
    SyncStore,
    audit,
    migrate,
)

log = structlog.get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """Every long-lived object of one daemon instance."""

    holder: RuntimeHolder
    metrics: Metrics
    db: Database
    writer: IntakeWriter
    records: RecordStore
    pipeline: Pipeline
    jobs: PeriodicJobs
    retention: RetentionJob
    incident_times: IncidentTimes
    monthly_report: MonthlyReport
    reloader: Reloader
    dispatcher: OutboxDispatcher
    deadletters: DeadLettersApi
    reports: ReportsApi
    explain: ExplainApi
    inbound: InboundHooks
    webhooks: WebhookIntake
    api: Api
    console: ConsoleParts
    notifier: Notifier
    instance: str
    smtp: SmtpListener | None = None
    imap: ImapPoller | None = None
    heartbeats: HeartbeatMonitor | None = None
    portal: Portal | None = None
    requester_mail: RequesterNotifier | None = None
    http_bound: list[str] = field(default_factory=list)

    @property
    def runtime(self) -> Runtime:
        return self.holder.current

    def swap_runtime(self, runtime: Runtime) -> None:
        self.holder.current = runtime

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        checks: dict[str, str] = {}
        try:
            await self.db.ping(limit_seconds=2.0, write=True)  # ready = intake can commit
            checks["database"] = "ok"
            self.metrics.database_up.set(1)
        except StorageUnavailable as exc:
            checks["database"] = str(exc)
            self.metrics.database_up.set(0)
        checks["listeners"] = "ok" if self.http_bound else "not bound"
        if self.smtp is not None:
            checks["smtp"] = "ok" if self.smtp.bound else "not bound"
        return all(value == "ok" for value in checks.values()), checks

    def http_app(self) -> web.Application:
        """The HTTP application with every route the daemon serves."""
        config = self.runtime.loaded.config
        return build_http_app(
            webhooks=self.webhooks,
            api=self.api,
            metrics=self.metrics,
            readiness=self.readiness,
            extra_routes=[
                *self.deadletters.routes(),
                *self.reports.routes(),
                *self.inbound.routes(),
                *(self.portal.routes() if self.portal is not None else ()),
                *self.console.routes,
                *self.explain.routes(),
            ],
            middlewares=self.console.middlewares,
            on_shutdown=self.console.on_shutdown,
            max_body_bytes=config.body_cap(),
        )

    async def _record_start(self) -> None:
        """The audit log's first word from this process: the config and rules in force."""
        runtime = self.runtime
        details = {
            "instance": self.instance,
            "version": gateway.__version__,
            "rules_version": runtime.ruleset.version,
            **runtime.hashes,
        }
        await audit.record_alone(
            self.db, Operator("intake-gateway", "startup"), "start", "config", details
        )

    @asynccontextmanager
    async def started(self) -> AsyncIterator[Services]:
        config = self.runtime.loaded.config
        listeners = [("http", config.http.listen)]
        if self.smtp is not None:
            listeners.append(("smtp", config.smtp.listen))
        check_listeners(listeners)  # before the database is touched
        async with AsyncExitStack() as stack:
            await self.db.open()
            stack.push_async_callback(self.db.close)
            await migrate(self.db)
            await self._record_start()
            await stack.enter_async_context(self.writer.running())
            await stack.enter_async_context(self.pipeline.running())
            await stack.enter_async_context(self.jobs.running())
            await stack.enter_async_context(self.dispatcher.running())
            await stack.enter_async_context(self.retention.running())
            await stack.enter_async_context(self.incident_times.running())
            await stack.enter_async_context(self.monthly_report.running())
            if self.requester_mail is not None:
                await stack.enter_async_context(self.requester_mail.running())
            stack.push_async_callback(self._drain)
            if self.heartbeats is not None:
                await stack.enter_async_context(self.heartbeats.running())
            if self.smtp is not None:
                await stack.enter_async_context(self.smtp.running())
            if self.imap is not None:
                await stack.enter_async_context(self.imap.running())
            runner = JsonErrorRunner(
                self.http_app(),
                access_log=None,
                handle_signals=False,
                shutdown_timeout=config.lifecycle.drain_seconds,
            )
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            listen = config.http.listen
            site = web.TCPSite(runner, listen.host, listen.port, reuse_address=True)
            await site.start()
            self.http_bound = [str(address) for address in bound_addresses(runner)]
            log.info("http_listening", addresses=self.http_bound)
            yield self

    async def _drain(self) -> None:
        deadline = time.monotonic() + self.runtime.loaded.config.lifecycle.drain_seconds
        await self.pipeline.drain(deadline)
        await self.dispatcher.drain(deadline)


def build(loaded: LoadedConfig) -> Services:
    """Construct the daemon's object graph from a validated config. No I/O."""
    config = loaded.config
    holder = RuntimeHolder(compile_runtime(loaded))
    metrics = Metrics()
    instance = config.instance or f"{socket.gethostname()}:{os.getpid()}"
    db = Database(
        DatabaseSettings(
            url=config.storage.url,
            sqlite_synchronous=config.storage.sqlite_synchronous,
            pool_size=config.storage.pool_size,
            connect_timeout_seconds=config.storage.connect_timeout_seconds,
        )
    )
    writer = IntakeWriter(db, max_batch=config.storage.group_commit_max_batch)
    records = RecordStore(db, owner=instance)

    links = link_signer(loaded, utc_now)
    dispatcher = build_dispatcher(
        config.sinks,
        db,
        metrics,
        utc_now,
        aiohttp.ClientSession,
        owner=instance,
        links=links.url if links is not None else None,
    )
    reports = ReportEngine(Reports(db), lambda: holder.current.ruleset, utc_now)
    incidents = IncidentStore(db, lambda: holder.current.answers, reports.calendar)
    pipeline = Pipeline(
        db=db,
        records=records,
        incidents=incidents,
        parsers=lambda: holder.current.parsers,
        ruleset=lambda: holder.current.ruleset,
        metrics=metrics,
        clock=utc_now,
        intake=writer,
        on_commit=dispatcher.wake,
        settings=PipelineSettings(
            batch_size=config.pipeline.batch_size,
            recovery_interval_seconds=config.pipeline.recovery_interval_seconds,
            thread_parse_bytes=config.pipeline.thread_parse_bytes,
            parse_workers=(
                default_workers()
                if config.pipeline.parse_workers == "auto"
                else config.pipeline.parse_workers
            ),
            parse_worker_nice=config.pipeline.parse_worker_nice,
            busy_share=config.pipeline.busy_share,
        ),
    )
    heartbeats = HeartbeatMonitor(
        db=db,
        store=HeartbeatStore(db),
        incidents=IncidentStore(db),
        integrations=lambda: [item.config for item in holder.current.integrations.values()],
        ruleset=lambda: holder.current.ruleset,
        metrics=metrics,
        clock=utc_now,
    )
    webhooks = WebhookIntake(
        integrations=lambda: holder.current.integrations,
        writer=writer,
        records=records,
        handoff=pipeline.notify,
        metrics=metrics,
        clock=utc_now,
        sample_bytes=config.http.rejected_sample_bytes,
        heartbeats=heartbeats.observe,
    )
    jobs = PeriodicJobs(
        db=db,
        store=PeriodicStore(incidents),
        ruleset=lambda: holder.current.ruleset,
        metrics=metrics,
        clock=utc_now,
        interval_seconds=config.pipeline.periodic_interval_seconds,
    )
    inbound = InboundHooks(config.sinks, SyncStore(db), utc_now)
    reloader = Reloader(holder, metrics, dispatcher, inbound, db)
    metrics.rules_info.labels(holder.current.ruleset.version).set(1)
    clients = ClientAddresses(lambda: networks(holder.current.loaded.config.http.trusted_proxies))
    actions = Actions(db, on_commit=dispatcher.wake, calendar=reports.calendar)
    portal = build_portal(
        loaded,
        links,
        PortalWiring(
            writer=writer,
            handoff=pipeline.notify,
            metrics=metrics,
            actions=actions,
            clients=clients,
            clock=utc_now,
            services=lambda: tuple(holder.current.ruleset.catalogue.services),
            db=db,
        ),
    )
    api = Api(
        actions=actions,
        token=lambda: holder.current.loaded.secrets.get("http.api_token"),
        read_token=lambda: holder.current.loaded.secrets.get("http.api_read_token"),
        clients=clients,
        clock=utc_now,
        reload=reloader.reload,
    )
    mail = MailIntake(writer=writer, handoff=pipeline.notify, metrics=metrics, clock=utc_now)
    smtp = None
    if config.smtp.enabled:
        handler = MailHandler(
            mailboxes=lambda: holder.current.mailboxes,
            intake=mail,
            max_recipients=config.smtp.max_recipients,
            offer_auth=config.smtp.auth is not None,
        )
        smtp = SmtpListener(
            SmtpSettings.from_config(config.smtp, loaded.secrets),
            handler,
            metrics,
            drain_seconds=config.lifecycle.drain_seconds,
        )
    imap = None
    if config.imap.accounts:
        leases = LeaseStore(db)
        imap = ImapPoller.from_config(
            config.imap.accounts,
            loaded.secrets,
            mail,
            metrics,
            leases=leases if leases.shared else None,
            owner=instance,
        )
    return Services(
        holder=holder,
        metrics=metrics,
        db=db,
        writer=writer,
        records=records,
        pipeline=pipeline,
        jobs=jobs,
        incident_times=IncidentTimes(db, metrics.registry),
        retention=RetentionJob(
            db=db,
            store=RetentionStore(db),
            config=config.retention,
            registry=metrics.registry,
            clock=utc_now,
            intake_idle=writer.idle,
        ),
        reloader=reloader,
        dispatcher=dispatcher,
        deadletters=DeadLettersApi(OutboxStore(db, instance), utc_now, dispatcher.wake),
        reports=ReportsApi(reports, utc_now),
        monthly_report=MonthlyReport(db, reports, lambda: holder.current, utc_now, instance),
        explain=ExplainApi(db=db, store=incidents, runtime=lambda: holder.current, clock=utc_now),
        inbound=inbound,
        webhooks=webhooks,
        api=api,
        console=build_console(
            holder,
            db,
            actions,
            clients,
            dispatcher.wake,
            OutboxStore(db, instance),
            reports,
            lambda: reloader.last,
        ),
        notifier=Notifier(),
        instance=instance,
        smtp=smtp,
        imap=imap,
        heartbeats=heartbeats,
        portal=portal,
        requester_mail=RequesterNotifier(
            store=RequesterMail(db),
            config=lambda: holder.current.loaded.config,
            clock=utc_now,
            interval_seconds=config.pipeline.periodic_interval_seconds,
            on_commit=dispatcher.wake,
        ),
    )
