"""Test support for forwarding: a movable clock, incidents and outbox rows, a running dispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import TypeAdapter

from core.outbox import OutboxAction
from gateway.forwarding.dispatcher import DispatchSettings, OutboxDispatcher, build_dispatcher
from gateway.metrics import Metrics
from sinks.config import SinkConfig
from storage import models
from storage.database import Database, DatabaseSettings
from storage.incident_state import incident_key
from storage.migrations import migrate
from storage.outbox import enqueue
from tests.integration.daemon import eventually

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SINK_CONFIG: TypeAdapter[SinkConfig] = TypeAdapter(SinkConfig)
FAST = DispatchSettings(lease_seconds=30.0, poll_seconds=0.05, depth_seconds=0.2)


class FakeClock:
    """The dispatcher's clock; tests move it instead of waiting."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class RealClock:
    def __call__(self) -> datetime:
        return datetime.now(UTC)


def sink(**fields: Any) -> SinkConfig:
    return SINK_CONFIG.validate_python(fields)


async def new_incident(
    db: Database, title: str = "disk full on db1", priority: str = "P3", **fields: Any
) -> tuple[int, str]:
    correlation_key = fields.pop("correlation_key_override", None)
    async with db.transaction() as connection:
        row = await models.Incident.create(
            using_db=connection,
            title=title,
            priority=priority,
            correlation_key=correlation_key or f"ck-{title}-{datetime.now(UTC).timestamp()}",
            open_key=correlation_key,
            service=fields.pop("service", "billing"),
            created_at=T0,
            updated_at=T0,
            **fields,
        )
        row.key = incident_key(row.id)
        await row.save(using_db=connection, update_fields=["key"])
    return row.id, row.key


async def queue(
    db: Database,
    incident_id: int,
    sink_name: str,
    action: OutboxAction,
    key: str | None = None,
    now: datetime | None = None,
    **payload: Any,
) -> None:
    now = now or datetime.now(UTC)
    async with db.transaction() as connection:
        await enqueue(
            connection,
            incident_id=incident_id,
            sink=sink_name,
            action=action,
            idempotency_key=key or f"{incident_id}:{sink_name}:{action.value}:{now.timestamp()}",
            payload=payload,
            now=now,
        )


@dataclass
class Running:
    dispatcher: OutboxDispatcher
    metrics: Metrics

    def sample(self, name: str, labels: Mapping[str, str]) -> float:
        value = self.metrics.registry.get_sample_value(name, dict(labels))
        return value or 0.0


@asynccontextmanager
async def dispatching(
    db: Database,
    sinks: list[SinkConfig],
    clock: Any,
    settings: DispatchSettings = FAST,
) -> AsyncIterator[Running]:
    metrics = Metrics()
    dispatcher = build_dispatcher(
        sinks, db, metrics, clock, aiohttp.ClientSession, owner="test", settings=settings
    )
    async with dispatcher.running():
        yield Running(dispatcher, metrics)


async def outbox_states(db: Database) -> dict[str, str]:
    return {row.idempotency_key: row.state for row in await models.OutboxRow.all()}


@asynccontextmanager
async def sqlite_database(path: str) -> AsyncIterator[Database]:
    """Sink tests: the storage side is covered on both engines elsewhere."""
    db = Database(DatabaseSettings(url=f"sqlite://{path}/gateway.sqlite3"))
    await db.open()
    await migrate(db)
    try:
        yield db
    finally:
        await db.close()


async def settled(db: Database, count: int) -> dict[str, str]:
    """The outbox's states once ``count`` rows are delivered or dead."""

    async def probe() -> dict[str, str]:
        return await outbox_states(db)

    return await eventually(
        probe, lambda states: sum(s in ("delivered", "dead") for s in states.values()) >= count
    )


@asynccontextmanager
async def ticket_receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A ticket system on a local socket: its URL and the bodies POSTed to it, each
    answered with a new ticket id."""
    received: list[dict[str, Any]] = []

    async def accept(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"id": f"T-{len(received)}"}, status=201)

    app = web.Application()
    app.add_routes([web.post("/tickets", accept)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/tickets", received
    finally:
        await runner.cleanup()
