"""Email sink: threading and header safety (aiosmtpd), and SMTP faults (Postfix smtp-sink)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.outbox import OutboxAction
from storage import models
from storage.database import Database
from storage.outbox import OutboxStore
from tests.integration.daemon import eventually
from tests.integration.fakes.mail import capturing_smtp, dumped, smtp_sink
from tests.integration.forwarding import (
    RealClock,
    dispatching,
    new_incident,
    outbox_states,
    queue,
    settled,
    sink,
    sqlite_database,
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with sqlite_database(str(tmp_path)) as database:
        yield database


def mail_sink(port: int, **extra: Any) -> Any:
    fields: dict[str, Any] = {
        "name": "mail",
        "kind": "email",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": "gateway@example.org",
        "to": ["oncall@example.org"],
        "message_id_domain": "gw.example.org",
        "timeout_seconds": 5,
        "retry": {"base_seconds": 0.05, "cap_seconds": 0.1},
        "comment_interval_seconds": 0,
    }
    return sink(**{**fields, **extra})


async def test_mails_thread_and_nothing_from_the_incident_reaches_a_header(db: Database) -> None:
    async with capturing_smtp() as (capture, port):
        incident_id, key = await new_incident(db, "db down\r\nBcc: evil@example.com")
        await queue(db, incident_id, "mail", OutboxAction.CREATE, "create")
        await queue(db, incident_id, "mail", OutboxAction.COMMENT, "c1", text="see\r\nBcc: x")
        await queue(db, incident_id, "mail", OutboxAction.RESOLVE, "resolve")
        async with dispatching(db, [mail_sink(port)], RealClock()):
            states = await settled(db, 3)
    assert set(states.values()) == {"delivered"}
    first, comment, resolved = capture.messages
    assert first["Subject"] == f"[{key}] db down  Bcc: evil@example.com".replace("  ", " ")
    assert all(message["Bcc"] is None for message in capture.messages)
    assert capture.envelopes[0] == ("gateway@example.org", ["oncall@example.org"])
    assert all(m["Auto-Submitted"] == "auto-generated" for m in capture.messages)
    root = first["Message-ID"]
    assert first["In-Reply-To"] is None
    for reply in (comment, resolved):
        assert reply["Subject"].startswith(f"Re: [{key}]")
        assert reply["In-Reply-To"] == root and reply["References"] == root
    assert (
        "see\r\nBcc: x" in comment.get_content().replace("\n", "\r\n")
        or "Bcc: x" in comment.get_content()
    )
    threads = await models.MailThread.filter(incident_id=incident_id, direction="out")
    # kept as the email parser reads replies' In-Reply-To: without angle brackets
    assert {t.message_id for t in threads} == {
        str(m["Message-ID"]).strip("<>") for m in capture.messages
    }
    ref = await models.ExternalRef.get(incident_id=incident_id, sink="mail")
    assert ref.ticket_id == root


async def test_a_retried_mail_carries_the_same_message_id(db: Database, tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    # smtp-sink hangs up after the final dot: the relay may have queued it
    async with smtp_sink(dump, ["-q", "."]) as port:
        incident_id, _ = await new_incident(db)
        await queue(db, incident_id, "mail", OutboxAction.CREATE, "create")
        async with dispatching(db, [mail_sink(port)], RealClock()):
            row = await eventually(
                lambda: models.OutboxRow.get(idempotency_key="create"),
                lambda row: row.attempts >= 2 and row.last_error is not None,
            )
            # attempts counts claims: the second send may still be under way
            found = await eventually(lambda: _dumped(dump), lambda found: len(found) >= 2)
    assert row.state == "pending" and "connection lost at data" in (row.last_error or "")
    ids = {line for raw in found for line in raw.splitlines() if line.startswith(b"Message-ID:")}
    assert len(ids) == 1  # the receiver can drop the repeat


async def test_smtp_soft_reject_retries_and_hard_reject_dead_letters(
    db: Database, tmp_path: Path
) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    incident_id, _ = await new_incident(db)
    await queue(db, incident_id, "mail", OutboxAction.CREATE, "create")
    async with smtp_sink(dump, ["-r", "RCPT"]) as port:
        async with dispatching(db, [mail_sink(port)], RealClock()):
            row = await eventually(
                lambda: models.OutboxRow.get(idempotency_key="create"),
                lambda row: row.last_error is not None,
            )
        assert row.state == "pending" and (row.response or "").startswith("450")
    async with (
        smtp_sink(dump, ["-f", "RCPT"]) as port,
        dispatching(db, [mail_sink(port)], RealClock()),
    ):
        states = await settled(db, 1)
    assert states == {"create": "dead"}
    (dead,) = await OutboxStore(db, "t").dead_letters()
    assert dead.last_error.startswith("SMTP 500 at rcpt")
    assert "5.3.0 Error: command failed" in dead.response


async def test_smtp_sink_accepts_the_mail_with_its_headers(db: Database, tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    async with smtp_sink(dump) as port:
        incident_id, key = await new_incident(db, "printer jam")
        await queue(db, incident_id, "mail", OutboxAction.CREATE, "create")
        async with dispatching(db, [mail_sink(port)], RealClock()):
            assert await settled(db, 1) == {"create": "delivered"}
        (raw,) = await eventually(lambda: _dumped(dump), lambda found: len(found) == 1)
    assert f"Subject: [{key}] printer jam".encode() in raw
    assert b"Auto-Submitted: auto-generated" in raw
    assert (await outbox_states(db)) == {"create": "delivered"}


async def _dumped(dump: Path) -> list[bytes]:
    return dumped(dump)
