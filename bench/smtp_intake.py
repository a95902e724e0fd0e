"""The SMTP intake path alone: listener, handler and durable group commit, with no
pipeline behind it (records stay pending). Run as a process:
``python -m bench.smtp_intake PORT DATABASE_URL``."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

import uvloop

from gateway.config.mail import MailboxConfig, SmtpConfig
from gateway.config.model import Secrets
from gateway.intake.mailintake import MailIntake, mailboxes_by_address
from gateway.intake.smtp import SmtpListener, SmtpSettings
from gateway.intake.smtp_handler import MailHandler
from gateway.metrics import Metrics
from storage.database import Database, DatabaseSettings
from storage.intake import IntakeWriter
from storage.migrations import migrate

RECIPIENT = "helpdesk@example.org"


async def serve(port: int, url: str) -> None:
    metrics = Metrics()
    db = Database(DatabaseSettings(url=url))
    await db.open()
    await migrate(db)
    writer = IntakeWriter(db)
    mailboxes = mailboxes_by_address((MailboxConfig(name="helpdesk", address=RECIPIENT),))
    intake = MailIntake(
        writer=writer,
        handoff=lambda record: None,
        metrics=metrics,
        clock=lambda: datetime.now(UTC),
    )
    handler = MailHandler(
        mailboxes=lambda: mailboxes, intake=intake, max_recipients=50, offer_auth=False
    )
    config = SmtpConfig.model_validate(
        {"enabled": True, "listen": f"127.0.0.1:{port}", "max_connections": 1000}
    )
    listener = SmtpListener(SmtpSettings.from_config(config, Secrets({})), handler, metrics, 5.0)
    try:
        async with writer.running(), listener.running():
            await asyncio.Event().wait()
    finally:
        await db.close()


def main() -> None:
    uvloop.run(serve(int(sys.argv[1]), sys.argv[2]))


if __name__ == "__main__":
    main()
