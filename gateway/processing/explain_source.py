"""Which integration or mailbox a payload to explain is for, and its intake record as
the SMTP listener or the webhook edge would have committed it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from core.records import Channel, IntakeRecord
from gateway.intake.mailintake import MAIL_KIND
from gateway.runtime import Runtime
from parsers.base import Parser

MAIL_MEDIA = "message/rfc822"
_HEADER_BYTES = 256 * 1024


class UnknownSource(ValueError):
    """The integration or mailbox is not configured, or cannot be told: the message
    names the choices."""


@dataclass(frozen=True, slots=True)
class Payload:
    name: str  # the integration or mailbox
    kind: str  # the record's kind: the integration's, or email
    record: IntakeRecord
    parser: Parser


def payload(
    runtime: Runtime,
    raw: bytes,
    *,
    named: str | None,
    content_type: str,
    mail_from: str | None,
    now: datetime,
) -> Payload:
    """UnknownSource when the integration is unknown or cannot be told."""
    name, kind = _source(runtime, named, content_type == MAIL_MEDIA, raw)
    if kind == MAIL_KIND:
        address = next((box.address for box in runtime.mailboxes.values() if box.name == name), "")
        meta = {"rcpt_to": address}
        if mail_from is not None:
            meta["mail_from"] = mail_from
        record = IntakeRecord(0, Channel.SMTP, name, kind, now, raw, meta)
    else:
        record = IntakeRecord(0, Channel.HTTP, name, kind, now, raw, {"content_type": content_type})
    return Payload(name, kind, record, runtime.parsers[name])


def _source(runtime: Runtime, named: str | None, is_mail: bool, raw: bytes) -> tuple[str, str]:
    mailboxes = {box.name: box.address for box in runtime.mailboxes.values()}
    integrations = {name: item.config.kind for name, item in runtime.integrations.items()}
    if named is not None:
        if named in integrations:
            return named, integrations[named]
        if named in mailboxes:
            return named, MAIL_KIND
        raise UnknownSource(f"integration: no integration or mailbox {named!r}{_choices(runtime)}")
    if is_mail:
        addressed = _addressed(raw)
        for name, address in mailboxes.items():
            if address in addressed:
                return name, MAIL_KIND
        if len(mailboxes) == 1:
            return next(iter(mailboxes)), MAIL_KIND
        raise UnknownSource(f"integration: the mail names no configured mailbox{_choices(runtime)}")
    if len(integrations) == 1:
        return next(iter(integrations.items()))
    raise UnknownSource(f"integration: name the integration of the payload{_choices(runtime)}")


def _choices(runtime: Runtime) -> str:
    names = sorted([*runtime.integrations, *(box.name for box in runtime.mailboxes.values())])
    return f" (configured: {', '.join(names) or 'none'})"


def _addressed(raw: bytes) -> set[str]:
    """Addresses of To and Cc, lower-cased: where the mail was sent."""
    headers = BytesHeaderParser().parsebytes(raw[:_HEADER_BYTES])
    values = [str(value) for name in ("to", "cc") for value in headers.get_all(name) or []]
    return {address.lower() for _, address in getaddresses(values) if address}
