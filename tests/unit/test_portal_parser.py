"""The portal's parser: a request reads like a new mail, a comment like a reply naming
its incident; anything else is a ParseError with a reason, never another exception."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from core.errors import ParseError
from core.records import Channel, IntakeRecord, MailKind
from parsers.portal import PortalParser

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _record(document: Any, record_id: int = 41) -> IntakeRecord:
    raw = document if isinstance(document, bytes) else orjson.dumps(document)
    return IntakeRecord(record_id, Channel.PORTAL, "portal", "portal", T0, raw)


def test_a_comment_is_a_reply_to_its_incident() -> None:
    [event] = PortalParser().parse(
        _record(
            {
                "form": "comment",
                "incident_key": "inc-000007",
                "requester": "A@x.org",
                "text": " 还是不行 ",
            }
        )
    )
    assert event.mail is not None
    assert event.mail.kind is MailKind.REPLY
    assert event.mail.incident_keys == ("INC-000007",)
    assert event.mail.sender == "a@x.org"
    assert event.mail.body == "还是不行"
    assert event.mail.message_id == "portal.41@portal.invalid"
    assert event.fingerprint == "portal:portal:41"
    assert event.occurred_at == T0


def test_a_request_is_a_new_mail_with_its_type_service_fields_and_files() -> None:
    data = b"%PDF-1.7 tiny"
    [event] = PortalParser().parse(
        _record(
            {
                "form": "request",
                "type": "service_request",
                "service": "email",
                "requester": "b@x.org",
                "name": "B",
                "subject": "New mailbox",
                "text": "for the new colleague",
                "fields": {"department": "finance"},
                "attachments": [
                    {
                        "filename": "<b>form</b>.pdf",
                        "content_type": "application/pdf",
                        "data_base64": base64.b64encode(data).decode(),
                    }
                ],
            }
        )
    )
    assert event.mail is not None and event.mail.kind is MailKind.NEW
    assert (event.name, event.service, event.summary) == ("New mailbox", "email", "New mailbox")
    assert event.labels == {"incident_type": "service_request", "portal_department": "finance"}
    [attachment] = event.mail.attachments
    assert (attachment.filename, attachment.size) == ("<b>form</b>.pdf", len(data))


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"", "invalid_json"),
        (b"[1]", "invalid_json"),
        ({"form": "other"}, "unknown_form"),
        ({"form": "comment", "requester": "a@x", "text": "t"}, "missing_field"),
        ({"form": "comment", "incident_key": 5, "text": "t"}, "invalid_field"),
        (
            {"form": "request", "type": "wish", "subject": "s", "text": "t", "requester": "a@x"},
            "invalid_field",
        ),
        (
            {
                "form": "request",
                "type": "incident",
                "subject": "s",
                "text": "t",
                "requester": "a@x",
                "attachments": [{"data_base64": "!!"}],
            },
            "invalid_field",
        ),
        (
            {
                "form": "request",
                "type": "incident",
                "subject": "s",
                "text": "t",
                "requester": "a@x",
                "fields": [],
            },
            "invalid_field",
        ),
    ],
)
def test_anything_else_is_a_parse_error(document: Any, reason: str) -> None:
    with pytest.raises(ParseError) as error:
        PortalParser().parse(_record(document))
    assert error.value.reason == reason
