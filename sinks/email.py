"""Mail: one thread per incident, replies thread back to it.

The first mail's Message-ID is the "ticket"; later mails carry In-Reply-To
and References to it, so mail clients and help desks keep one thread. Every
Message-ID is derived from the row's idempotency key, so a retried mail
carries the same one and a receiver can drop the repeat. Nothing from the
incident reaches a header with a CR or LF in it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate
from typing import ClassVar, Protocol

from core.outbox import OutboxAction, TicketRef
from sinks.config import EmailSinkConfig
from sinks.delivery import Delivered, Delivery, DeliveryFailed
from sinks.templates import Templates


class MailTransport(Protocol):
    async def send(self, message: EmailMessage, sender: str, recipients: list[str]) -> str: ...


def one_line(text: str) -> str:
    """Header-safe: control characters (CR and LF above all) become spaces."""
    return " ".join("".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text).split())


def _angled(message_id: str) -> str:
    """A Message-ID as headers spell it: <id>; "" for none."""
    bare = one_line(message_id).strip("<> ")
    return f"<{bare}>" if bare else ""


def message_id(idempotency_key: str, incident_key: str, domain: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
    return f"<{one_line(incident_key) or 'incident'}.{digest}@{domain}>"


class EmailSink:
    kind: ClassVar[str] = "email"
    tracks_tickets: ClassVar[bool] = True
    can_lookup: ClassVar[bool] = False
    answers_mail: ClassVar[bool] = True
    TEMPLATES: ClassVar[Mapping[str, str]] = {
        "subject": "email_subject.txt.j2",
        "body": "email_body.txt.j2",
        "answer_subject": "email_answer_subject.txt.j2",
        "answer_body": "email_answer_body.txt.j2",
        "notify_subject": "email_notify_subject.txt.j2",
        "notify_body": "email_notify_body.txt.j2",
        "survey_subject": "email_survey_subject.txt.j2",
        "survey_body": "email_survey_body.txt.j2",
    }
    # mails to the requester: templates and their RFC 3834 marking, by outbox action
    TO_REQUESTER: ClassVar[Mapping[OutboxAction, tuple[str, str, str]]] = {
        OutboxAction.ACKNOWLEDGE: ("answer_subject", "answer_body", "auto-replied"),
        OutboxAction.NOTIFY: ("notify_subject", "notify_body", "auto-generated"),
        OutboxAction.SURVEY: ("survey_subject", "survey_body", "auto-generated"),
    }

    def __init__(
        self, config: EmailSinkConfig, transport: MailTransport, templates: Templates
    ) -> None:
        self._config = config
        self._transport = transport
        self._templates = templates

    @property
    def name(self) -> str:
        return self._config.name

    async def create(self, delivery: Delivery) -> Delivered:
        return await self._send(delivery, None)

    async def apply(self, delivery: Delivery, ticket: TicketRef | None) -> Delivered:
        return await self._send(delivery, ticket)

    async def lookup(self, delivery: Delivery) -> TicketRef | None:
        return None

    def compose(self, delivery: Delivery, thread: TicketRef | None) -> EmailMessage:
        """A mail of the incident's thread to the configured recipients."""
        root = one_line(thread.ticket_id) if thread is not None else ""
        return self._message(
            delivery,
            ("subject", "body"),
            to=", ".join(self._config.to),
            parent=root,
            references=root,
            automatic="auto-generated",
        )

    async def acknowledge(self, delivery: Delivery) -> Delivered:
        """Answer the requester whose mail opened the incident: to the sender only,
        threaded under the requester's message, marked automatic (RFC 3834) so that
        their auto-responder stays silent."""
        answer = delivery.answer
        recipient = one_line(str(answer.get("to") or ""))
        if "@" not in recipient:
            raise DeliveryFailed("the answer has no recipient address", retryable=False)
        parent = _angled(str(answer.get("in_reply_to") or ""))
        chain = [_angled(str(item)) for item in answer.get("references") or ()]
        subject, body, automatic = self.TO_REQUESTER[delivery.action]
        message = self._message(
            delivery,
            (subject, body),
            to=recipient,
            parent=parent,
            references=" ".join(item for item in chain if item) or parent,
            automatic=automatic,
        )
        reply = await self._transport.send(message, self._config.from_address, [recipient])
        return Delivered(response=reply, message_ids=(str(message["Message-ID"]),))

    def _message(
        self,
        delivery: Delivery,
        templates: tuple[str, str],
        *,
        to: str,
        parent: str,
        references: str,
        automatic: str,
    ) -> EmailMessage:
        """The mail: subject and body from the two templates, threaded under ``parent``
        (none: a thread's first mail), marked automatic (RFC 3834) as ``automatic``."""
        subject, body = templates
        context = delivery.context()
        message = EmailMessage()
        message["From"] = self._config.from_address
        message["To"] = to
        message["Subject"] = one_line(self._templates.render(subject, context))[:900]
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = message_id(
            delivery.idempotency_key, delivery.key, self._config.message_id_domain
        )
        if parent:
            message["In-Reply-To"] = parent
            message["References"] = references
        message["Auto-Submitted"] = automatic
        message["X-Auto-Response-Suppress"] = "All"
        message["X-Intake-Incident"] = one_line(delivery.key)
        message.set_content(self._templates.render(body, context) + "\n")
        return message

    async def _send(self, delivery: Delivery, thread: TicketRef | None) -> Delivered:
        message = self.compose(delivery, thread)
        own_id = str(message["Message-ID"])
        reply = await self._transport.send(
            message, self._config.from_address, list(self._config.to)
        )
        return Delivered(
            ticket=TicketRef(own_id) if thread is None else None,
            response=reply,
            message_ids=(own_id,),
        )
