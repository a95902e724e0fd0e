"""The webhook intake path alone: the daemon's own handler (auth, limits, validation by
parsing, durable group commit, 202) with no pipeline behind it (records stay pending).
Run as a process: ``python -m bench.webhook_intake PORT DATABASE_URL KIND``."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

import uvloop
from aiohttp import web

from gateway.config.model import IntegrationConfig
from gateway.intake.auth import Authenticator
from gateway.intake.ratelimit import TokenBucket
from gateway.intake.webhooks import Integration, WebhookIntake
from gateway.metrics import Metrics
from gateway.runtime import edge_tally
from parsers.registry import PARSERS
from storage.database import Database, DatabaseSettings
from storage.intake import IntakeWriter
from storage.migrations import migrate
from storage.records import RecordStore


def _integration(kind: str) -> Integration:
    config = IntegrationConfig.model_validate({"name": kind, "kind": kind})
    parser = PARSERS[kind]({})
    return Integration(
        config=config,
        parser=parser,
        tally=edge_tally(parser, config),
        auth=Authenticator(config.auth, {}),
        max_body_bytes=1024 * 1024,
        limiter=None,
        sample_limiter=TokenBucket(1.0, 20),
    )


async def serve(port: int, url: str, kind: str) -> None:
    db = Database(DatabaseSettings(url=url))
    await db.open()
    await migrate(db)
    writer = IntakeWriter(db)
    integrations = {kind: _integration(kind)}
    intake = WebhookIntake(
        integrations=lambda: integrations,
        writer=writer,
        records=RecordStore(db, owner="bench"),
        handoff=lambda record, events: None,
        metrics=Metrics(),
        clock=lambda: datetime.now(UTC),
        sample_bytes=4096,
    )

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=1024 * 1024 + 1)
    app.add_routes([web.post("/webhooks/{integration}", intake.handle), web.get("/readyz", ready)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        async with writer.running():
            await web.TCPSite(runner, "127.0.0.1", port).start()
            await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await db.close()


def main() -> None:
    uvloop.run(serve(int(sys.argv[1]), sys.argv[2], sys.argv[3]))


if __name__ == "__main__":
    main()
