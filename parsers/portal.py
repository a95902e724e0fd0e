"""Records of the requester portal: a request from the form, or a comment from a status
page. Pure: a stored record in, events out.

The portal stores what a requester sent as one JSON document (attachments
included, base64), and this parser reads it the way the email parser reads
a mail, so the same rules judge both: a request is a new mail from its
requester (type, service and the form's fields as labels), a comment is a
reply naming its incident by key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from core.errors import ParseError
from core.records import (
    Attachment,
    Event,
    EventStatus,
    IntakeRecord,
    MailFacts,
    MailKind,
    Severity,
)
from parsers.base import NAME_LIMIT, SUMMARY_LIMIT
from parsers.jsondoc import decode_json

KIND = "portal"
REQUEST_TYPES = ("incident", "service_request", "complaint", "change_request")
_TEXT_LIMIT = 65_536


def _text(document: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = document.get(name, "")
    if not isinstance(value, str):
        raise ParseError("invalid_field", f"{name} must be text")
    value = value.strip()
    if required and not value:
        raise ParseError("missing_field", f"{name} is required")
    return value


def _attachments(document: Mapping[str, Any]) -> tuple[Attachment, ...]:
    items = document.get("attachments", [])
    if not isinstance(items, list):
        raise ParseError("invalid_field", "attachments must be a list")
    found = []
    for item in items:
        if not isinstance(item, dict):
            raise ParseError("invalid_field", "an attachment must be an object")
        try:
            data = base64.b64decode(str(item.get("data_base64", "")), validate=True)
        except (binascii.Error, ValueError):
            raise ParseError("invalid_field", "an attachment's data is not base64") from None
        found.append(
            Attachment(
                filename=str(item.get("filename", ""))[:255],
                content_type=str(item.get("content_type", "application/octet-stream"))[:128],
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    return tuple(found)


def _fields(document: Mapping[str, Any]) -> dict[str, str]:
    fields = document.get("fields", {})
    if not isinstance(fields, dict):
        raise ParseError("invalid_field", "fields must be an object")
    return {f"portal_{key}"[:64]: str(value)[:1024] for key, value in fields.items()}


class PortalParser:
    """Requests and comments from the portal, as mail-like events."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> PortalParser:
        if options:
            raise ValueError("the portal parser takes no options")
        return cls()

    def parse(self, record: IntakeRecord) -> list[Event]:
        document = decode_json(record.raw)
        if not isinstance(document, dict):
            raise ParseError("invalid_json", "a portal record is a JSON object")
        form = document.get("form")
        if form == "comment":
            return [self._comment(record, document)]
        if form == "request":
            return [self._request(record, document)]
        raise ParseError("unknown_form", "form must be 'comment' or 'request'")

    def _comment(self, record: IntakeRecord, document: Mapping[str, Any]) -> Event:
        key = _text(document, "incident_key").upper()
        # an incident an alert opened has no requester: its link still comments
        sender = _text(document, "requester", required=False).lower()
        text = _text(document, "text")[:_TEXT_LIMIT]
        mail = MailFacts(
            kind=MailKind.REPLY,
            message_id=_message_id(record),
            subject=f"[{key}]",
            sender=sender,
            sender_name=_text(document, "name", required=False),
            incident_keys=(key,),
            body=text,
            full_text=text,
            attachments=_attachments(document),
        )
        event = _event(record, mail, name=f"comment on {key}", labels={})
        # each comment is an occurrence of its own, never a repeat of the one before
        return replace(event, fingerprint=f"portal:{record.source}:{record.id}")

    def _request(self, record: IntakeRecord, document: Mapping[str, Any]) -> Event:
        kind = _text(document, "type")
        if kind not in REQUEST_TYPES:
            raise ParseError("invalid_field", f"type must be one of {', '.join(REQUEST_TYPES)}")
        subject = _text(document, "subject")
        text = _text(document, "text")[:_TEXT_LIMIT]
        mail = MailFacts(
            kind=MailKind.NEW,
            message_id=_message_id(record),
            subject=subject[:NAME_LIMIT],
            sender=_text(document, "requester").lower(),
            sender_name=_text(document, "name", required=False),
            body=text,
            full_text=text,
            attachments=_attachments(document),
        )
        labels = {"incident_type": kind, **_fields(document)}
        service = _text(document, "service", required=False)
        return _event(record, mail, name=subject, labels=labels, service=service)


def _message_id(record: IntakeRecord) -> str:
    """A Message-ID of its own, so the entry on the timeline names its record."""
    return f"portal.{record.id}@{record.source}.invalid"


def _event(
    record: IntakeRecord,
    mail: MailFacts,
    *,
    name: str,
    labels: Mapping[str, str],
    service: str = "",
) -> Event:
    return Event(
        source=record.source,
        kind=KIND,
        name=name[:NAME_LIMIT],
        resource=mail.sender,
        severity=Severity.MEDIUM,
        status=EventStatus.FIRING,
        summary=(mail.subject if mail.kind is MailKind.NEW else mail.body)[:SUMMARY_LIMIT],
        description=mail.body,
        occurred_at=record.received_at,
        service=service,
        labels=dict(labels),
        mail=mail,
    )
