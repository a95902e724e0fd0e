"""Builders shared by the email parser tests (no tests here): fixtures, records, messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.records import Channel, Event, IntakeRecord, MailFacts
from parsers.email import EmailParser

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"
# The fixtures are dated Fri, 20 Nov 2026 10:00:00 +0800: received seconds later.
RECEIVED_AT = datetime(2026, 11, 20, 2, 0, 5, tzinfo=UTC)


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.eml").read_bytes()


def record(raw: bytes, **meta: str) -> IntakeRecord:
    return IntakeRecord(
        id=1,
        channel=Channel.SMTP,
        source="helpdesk",
        kind="email",
        received_at=RECEIVED_AT,
        raw=raw,
        meta=meta,
    )


def parse(raw: bytes, options: Mapping[str, Any] | None = None, /, **meta: str) -> Event:
    """The one event the parser makes of ``raw``."""
    events = EmailParser.from_options(options or {}).parse(record(raw, **meta))
    assert len(events) == 1
    return events[0]


def facts(event: Event) -> MailFacts:
    assert event.mail is not None
    return event.mail


def mail(
    headers: Sequence[tuple[str, str]] = (),
    body: str | bytes = "Hello.\n",
    *,
    subject: str = "Printer broken",
    sender: str = "Alice Example <alice@corp.example>",
) -> bytes:
    """A small message: From and Subject (unless given in ``headers``), headers, body."""
    names = {name.lower() for name, _ in headers}
    lines = [] if "from" in names else [f"From: {sender}"]
    lines += [] if "subject" in names else [f"Subject: {subject}"]
    lines += [f"{name}: {value}" for name, value in headers]
    data = body.encode("utf-8") if isinstance(body, str) else body
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + data
