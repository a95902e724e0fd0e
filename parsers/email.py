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

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.errors import ParseError
from core.records import Event, EventStatus, IntakeRecord, MailFacts, MailKind, Severity
from parsers.base import DESCRIPTION_LIMIT, ORIGINAL_SEVERITY, SUMMARY_LIMIT
from parsers.mail.addresses import Mailbox
from parsers.mail.classify import NO_SUBJECT, IncidentKeys, Signals, event_name, is_forward, kind_of
from parsers.mail.monitoring import MonitoringAlert, recognize
from parsers.mail.options import EmailOptions
from parsers.mail.reading import MessageReading, ReadableText, priority_header
from parsers.mail.text import strip_history

__all__ = ["KIND", "EmailOptions", "EmailParser"]

KIND = "email"
# X-Priority 1 and 2, and the words other clients use for the same.
_HIGH_PRIORITY = re.compile(r"^\s*(?:[12](?:\D|$)|high|urgent)", re.IGNORECASE)


class EmailParser:
    """``kind: email``: one mail, one event. Pure and thread-safe."""

    def __init__(self, options: EmailOptions) -> None:
        self._options = options
        self._keys = IncidentKeys(options.key_prefix)
        self._monitoring_senders = frozenset(a.lower() for a in options.monitoring_senders)

    @property
    def options(self) -> EmailOptions:
        return self._options

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> EmailParser:
        return cls(EmailOptions.model_validate(dict(options)))

    def parse(self, record: IntakeRecord) -> list[Event]:
        if not record.raw:
            raise ParseError("not_a_message", "the record holds no message: it is empty")
        return [self._event(MessageReading(record, self._options))]

    def _event(self, reading: MessageReading) -> Event:
        text = reading.text()
        subject = reading.subject()
        mailbox = reading.sender()
        alert = self._monitoring_alert(subject, text.full, mailbox)
        found = reading.signals(subject)
        priority = priority_header(reading.headers)
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
        reading: MessageReading,
        text: ReadableText,
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
