"""Email intake: one RFC 5322 message in, one event with :class:`MailFacts` out.

A mailbox in config (SMTP or IMAP)::

    mailboxes:
      - name: helpdesk
        address: helpdesk@corp.example
        options:
          key_prefix: INC              # [INC-000123] in a subject marks a reply
          default_severity: medium
          monitoring_senders: [nagios@corp.example, zabbix@corp.example]

The event of a person's mail names the sender as its resource and the
normalised subject as its name; its description is the new text of the
mail (quoted history and signature stripped). A Nagios/Icinga or Zabbix
notification becomes the alert it carries: the host as resource, the
service or trigger as name, firing or resolved, with a fingerprint shared by
problem and recovery.

The parser is pure: no I/O, no clock (the record's ``received_at`` stands in
for now), no state between calls. Hostile input costs bounded work: past a
limit the parser stops, marks the facts ``truncated`` and still returns the
event. It raises only for an empty record.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.errors import ParseError
from parsers.base import DESCRIPTION_LIMIT, ORIGINAL_SEVERITY, SUMMARY_LIMIT
from parsers.mail.addresses import Mailbox, recipients, sender
from parsers.mail.bounded import Limits, MimePart, parse_bounded
from parsers.mail.charsets import CharsetDecoder, Decoded
from parsers.mail.classify import (
    NO_SUBJECT,
    Envelope,
    IncidentKeys,
    Signals,
    event_name,
    is_forward,
    kind_of,
    signals,
)
from parsers.mail.defects import Defects
from parsers.mail.headers import (
    HeaderIndex,
    decode_words,
    first,
    index_headers,
    message_ids,
    parsed,
    single_line,
)
from parsers.mail.monitoring import MonitoringAlert, recognize
from parsers.mail.parts import (
    TextPart,
    attachment,
    attachment_parts,
    body_parts,
    bounced_message_ids,
    declared_charset,
    message_ids_in_text,
    stdlib_defects,
    text_parts,
)
from parsers.mail.text import html_to_text, normalized, strip_history
from parsers.records import (
    Attachment,
    Event,
    EventStatus,
    IntakeRecord,
    MailFacts,
    MailKind,
    Severity,
)

KIND = "email"
_DATE_LIMIT = 256  # longer Date values are garbage; policy.default would parse them slowly
_MAX_BOUNCED_IDS = 10
_HTML_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE
)
# X-Priority 1 and 2, and the words other clients use for the same.
_HIGH_PRIORITY = re.compile(r"^\s*(?:[12](?:\D|$)|high|urgent)", re.IGNORECASE)
_PRIORITY_HEADERS = ("x-priority", "importance", "priority", "x-msmail-priority")


class EmailOptions(BaseModel):
    """Options of a ``kind: email`` mailbox or listener."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_severity: Severity = Field(
        default=Severity.MEDIUM,
        description="severity of a mail without X-Priority/Importance high",
    )
    key_prefix: str = Field(
        default="INC",
        pattern=r"^[A-Za-z][A-Za-z0-9]{0,15}$",
        description="prefix of incident keys in subjects: [INC-000123] marks a reply",
    )
    detect_monitoring: bool = Field(
        default=True,
        description="turn Nagios/Icinga and Zabbix notification mail into their alerts",
    )
    monitoring_senders: tuple[str, ...] = Field(
        default=(),
        description="addresses whose mail may be monitoring notifications; empty: any sender",
    )
    max_parts: int = Field(default=1000, ge=1, le=100_000, description="MIME parts read")
    max_depth: int = Field(default=20, ge=1, le=100, description="MIME nesting levels read")
    max_headers: int = Field(
        default=1000, ge=10, le=100_000, description="header fields read per part"
    )
    max_header_bytes: int = Field(
        default=64 * 1024, ge=1024, le=1024 * 1024, description="bytes read of one header field"
    )
    max_text_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="bytes of body text decoded (over all text parts)",
    )
    max_html_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="bytes of HTML converted to text, over all HTML parts (the costly step)",
    )
    max_references: int = Field(
        default=100, ge=2, le=10_000, description="Message-IDs kept of References/In-Reply-To"
    )
    max_date_age_days: int = Field(
        default=30,
        ge=1,
        description="a Date header older than this (before receipt) is not believed",
    )
    max_date_ahead_hours: int = Field(
        default=24,
        ge=0,
        description="a Date header further than this after receipt is not believed",
    )

    @property
    def limits(self) -> Limits:
        return Limits(self.max_parts, self.max_depth, self.max_headers, self.max_header_bytes)


@dataclass(frozen=True, slots=True)
class _Text:
    full: str
    charset: str  # of the first text part; "" without text
    limits_hit: tuple[str, ...]  # "max_text_bytes", "max_html_bytes"


class EmailParser:
    """``kind: email``: one mail, one event. Pure and thread-safe."""

    def __init__(self, options: EmailOptions) -> None:
        self._options = options
        self._keys = IncidentKeys(options.key_prefix)
        self._monitoring_senders = frozenset(a.lower() for a in options.monitoring_senders)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> EmailParser:
        return cls(EmailOptions.model_validate(dict(options)))

    def parse(self, record: IntakeRecord) -> list[Event]:
        if not record.raw:
            raise ParseError("not_a_message", "the record holds no message: it is empty")
        return [self._event(_Reading(record, self._options))]

    def _event(self, reading: _Reading) -> Event:
        text = reading.text()
        subject = reading.subject()
        mailbox = reading.sender()
        alert = self._monitoring_alert(subject, text.full, mailbox)
        found = reading.signals(subject)
        priority = _priority(reading.headers)
        occurred_at = reading.sent_at()
        facts = self._facts(reading, text, subject, mailbox, found, alert)
        labels = _labels(facts, text.charset, found, priority, alert)
        if alert is not None:
            return _alert_event(reading.record, facts, alert, labels, occurred_at)
        return Event(
            source=reading.record.source,
            kind=KIND,
            name=event_name(subject, self._keys),
            resource=facts.sender,
            severity=self._severity(priority),
            status=EventStatus.FIRING,
            summary=(subject or NO_SUBJECT)[:SUMMARY_LIMIT],
            occurred_at=occurred_at,
            description=facts.body[:DESCRIPTION_LIMIT],
            labels=labels,
            mail=facts,
        )

    def _facts(
        self,
        reading: _Reading,
        text: _Text,
        subject: str,
        mailbox: Mailbox | None,
        found: Signals,
        alert: MonitoringAlert | None,
    ) -> MailFacts:
        max_references = self._options.max_references
        keys = self._keys.found_in(subject)
        kind = kind_of(found, alert is not None, keys)
        return MailFacts(
            kind=kind,
            message_id=next(iter(reading.message_ids("message-id", 1)), ""),
            subject=subject,
            sender=mailbox.address if mailbox else "",
            sender_name=mailbox.display_name if mailbox else "",
            recipients=reading.recipients(),
            in_reply_to=reading.message_ids("in-reply-to", max_references),
            references=reading.message_ids("references", max_references),
            incident_keys=keys,
            # A forward's point is the forwarded text: it is kept.
            body=text.full if is_forward(subject) else strip_history(text.full),
            full_text=text.full,
            attachments=reading.attachments(),
            auto_submitted=found.auto_submitted,
            bounced_message_ids=reading.bounced(text.full) if kind is MailKind.BOUNCE else (),
            truncated=bool(reading.limits_hit or text.limits_hit),
            defects=reading.final_defects(text.limits_hit),  # last: every step has noted its own
        )

    def _severity(self, priority: str) -> Severity:
        return Severity.HIGH if _HIGH_PRIORITY.match(priority) else self._options.default_severity

    def _monitoring_alert(
        self, subject: str, text: str, mailbox: Mailbox | None
    ) -> MonitoringAlert | None:
        if not self._options.detect_monitoring:
            return None
        if self._monitoring_senders and (
            mailbox is None or mailbox.address not in self._monitoring_senders
        ):
            return None
        return recognize(subject, text)


class _Reading:
    """One message being read: its bounded MIME tree, header index, charset
    decoder and defects. Lives for one ``parse`` call; never shared."""

    def __init__(self, record: IntakeRecord, options: EmailOptions) -> None:
        self.record = record
        self._options = options
        self._defects = Defects()
        self._decoder = CharsetDecoder()
        bounded = parse_bounded(record.raw, options.limits)
        self.root = bounded.root
        self.limits_hit = bounded.limits_hit
        self.headers = index_headers(self.root)
        self._body = body_parts(self.root)
        for part in (self.root, *self._body):  # raw 8-bit headers are usually in these
            self._decoder.add_hint(declared_charset(part))

    def text(self) -> _Text:
        """The body parts decoded and joined, HTML as text, within the byte limits."""
        texts: list[str] = []
        charset = ""
        limits_hit: dict[str, None] = {}
        options = self._options
        budget = {
            "max_text_bytes": options.max_text_bytes,
            "max_html_bytes": options.max_html_bytes,
        }
        for part in text_parts(self._body):
            data, limit = _within_limits(part, budget)
            if limit:
                limits_hit.setdefault(limit, None)
            if not data:
                continue
            readable = self._readable(part, data, complete=len(data) == len(part.data))
            charset = charset or readable.charset
            texts.append(readable.text)
        return _Text("\n\n".join(text for text in texts if text), charset, tuple(limits_hit))

    def _readable(self, part: TextPart, data: bytes, *, complete: bool) -> Decoded:
        """One part's bytes as normalised text (HTML converted) and the charset used."""
        html = part.subtype == "html"
        declared = part.charset or (_html_meta_charset(data) if html else None)
        decoded = self._decoder.decode(data, declared, complete=complete)
        self._defects.add(decoded.defect and f"body_{decoded.defect}")
        text = html_to_text(decoded.text) if html else decoded.text
        return Decoded(normalized(text), decoded.charset, decoded.defect)

    def subject(self) -> str:
        raw = first(self.headers, "subject") or ""
        return single_line(decode_words(raw, self._decoder, self._defects))

    def sender(self) -> Mailbox | None:
        return sender(self.root, first(self.headers, "from"), self._decoder, self._defects)

    def signals(self, subject: str) -> Signals:
        content_type = self.root.content_type
        report_type = (content_type.raw("report-type") if content_type else None) or ""
        envelope = Envelope(
            headers=self.headers,
            subject=subject,
            content_type=self.root.get_content_type(),
            report_type=report_type.lower(),
            mail_from=self.record.meta.get("mail_from"),
        )
        return signals(envelope)

    def message_ids(self, header: str, limit: int) -> tuple[str, ...]:
        return message_ids(first(self.headers, header), limit)

    def recipients(self) -> tuple[str, ...]:
        raw = [(name, value) for name in ("to", "cc") for value in self.headers.get(name, ())]
        return recipients(raw, self.record.meta.get("rcpt_to", ""), self._defects)

    def attachments(self) -> tuple[Attachment, ...]:
        found = attachment_parts(self.root, self._body)
        return tuple(attachment(part, self._decoder, self._defects) for part in found)

    def bounced(self, text: str) -> tuple[str, ...]:
        """What bounced: the returned message's ID, from its part or quoted in the text."""
        return bounced_message_ids(self.root, _MAX_BOUNCED_IDS) or message_ids_in_text(
            text.encode("utf-8"), _MAX_BOUNCED_IDS
        )

    def sent_at(self) -> datetime:
        """The Date header when it is readable and plausible, else the time of receipt."""
        raw = first(self.headers, "date")
        received_at = self.record.received_at
        if raw is None:
            return received_at
        sent = _date_value(self.root, raw, self._defects)
        if sent is None:
            self._defects.add("date_invalid")
            return received_at
        earliest = received_at - timedelta(days=self._options.max_date_age_days)
        latest = received_at + timedelta(hours=self._options.max_date_ahead_hours)
        if not earliest <= sent <= latest:
            self._defects.add("date_out_of_range")
            return received_at
        return sent

    def final_defects(self, text_limits_hit: tuple[str, ...]) -> tuple[str, ...]:
        """All defects noted, the stdlib parser's and the limits hit included."""
        stdlib_defects(self.root, self._defects)
        for limit in (*self.limits_hit, *text_limits_hit):
            self._defects.add(f"limit:{limit}")
        return self._defects.as_tuple()


def _within_limits(part: TextPart, budget: dict[str, int]) -> tuple[bytes, str]:
    """The part's bytes cut to what the budget still allows (which it then spends),
    and the name of the limit that cut them."""
    limits = ("max_text_bytes", "max_html_bytes") if part.subtype == "html" else ("max_text_bytes",)
    tightest = min(limits, key=budget.__getitem__)
    data = part.data[: budget[tightest]]
    for limit in limits:
        budget[limit] -= len(data)
    return data, tightest if len(data) < len(part.data) else ""


def _html_meta_charset(data: bytes) -> str | None:
    match = _HTML_META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def _priority(headers: HeaderIndex) -> str:
    """The first priority header's value, as sent ("1 (Highest)", "high"); "" without one."""
    for name in _PRIORITY_HEADERS:
        raw = first(headers, name)
        if raw and raw.strip():
            return single_line(raw)[:64]
    return ""


def _date_value(root: MimePart, raw: str, defects: Defects) -> datetime | None:
    if len(raw) > _DATE_LIMIT:
        return None
    sent = parsed(root, "date", _header_datetime, defects)
    if sent is None:  # policy.default failed or found nothing: the plain RFC 5322 reader
        try:
            sent = email.utils.parsedate_to_datetime(single_line(raw))
        except (ValueError, TypeError, IndexError, OverflowError):
            return None
    # "-0000" means the zone is unknown (RFC 5322 3.3); UTC is the usual reading.
    return sent if sent.tzinfo is not None else sent.replace(tzinfo=UTC)


def _header_datetime(header: object) -> datetime | None:
    value = getattr(header, "datetime", None)
    return value if isinstance(value, datetime) else None


def _labels(
    facts: MailFacts,
    charset: str,
    found: Signals,
    priority: str,
    alert: MonitoringAlert | None,
) -> dict[str, str]:
    labels = {"mail_kind": facts.kind.value}
    if charset:
        labels["charset"] = charset
    if found.bounce or found.auto_reply:
        labels["auto_reason"] = found.bounce or found.auto_reply
    if alert is not None:
        labels["monitoring_tool"] = alert.tool
        labels["notification_type"] = alert.notification_type
        labels[ORIGINAL_SEVERITY] = alert.original_severity
    elif priority:
        labels[ORIGINAL_SEVERITY] = priority
    return labels


def _alert_event(
    record: IntakeRecord,
    facts: MailFacts,
    alert: MonitoringAlert,
    labels: dict[str, str],
    occurred_at: datetime,
) -> Event:
    return Event(
        source=record.source,
        kind=KIND,
        name=alert.check,
        resource=alert.host,
        severity=alert.severity,
        status=alert.status,
        summary=(facts.subject or NO_SUBJECT)[:SUMMARY_LIMIT],
        occurred_at=occurred_at,
        description=facts.body[:DESCRIPTION_LIMIT],
        labels=labels,
        fingerprint=alert.fingerprint,
        mail=facts,
    )
