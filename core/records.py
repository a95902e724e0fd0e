"""The types parsers take and return: IntakeRecord in, Event out.

These are the contract between the adapters (which create intake records),
the parsers (pure: ``parse(record) -> list[Event]``) and the rule engine
(which reads events). They are frozen, hold no I/O handles and carry every
time as an explicit, timezone-aware ``datetime``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from core.storable import make_storable

# Labels a parser adds that may differ between deliveries of the same alert;
# they must not change its identity.
VOLATILE_LABELS = frozenset({"original_severity", "truncated_alerts", "labels_truncated"})


class Channel(StrEnum):
    """How an intake record arrived."""

    SMTP = "smtp"
    IMAP = "imap"
    HTTP = "http"
    PORTAL = "portal"  # the requester portal's forms


@dataclass(frozen=True, slots=True)
class IntakeRecord:
    """One raw thing received, exactly as stored.

    ``source`` is the integration name (HTTP) or the mailbox/listener name
    (mail); ``kind`` selects the parser. ``meta`` holds the envelope: SMTP
    ``mail_from``/``rcpt_to``/``peer``, HTTP ``content_type``/``delivery_id``,
    IMAP ``account``/``folder``/``uid``; values are strings.
    """

    id: int
    channel: Channel
    source: str
    kind: str
    received_at: datetime
    raw: bytes
    meta: Mapping[str, str] = field(default_factory=dict)


class Severity(StrEnum):
    """The one severity scale every parser maps onto (original kept in labels)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse; used to keep the worst severity seen."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class EventStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


_MAIL_SEQUENCES = (
    "recipients",
    "in_reply_to",
    "references",
    "incident_keys",
    "bounced_message_ids",
    "defects",
)
_EVENT_TEXTS = (
    "source",
    "kind",
    "name",
    "resource",
    "summary",
    "description",
    "service",
    "ci",
    "environment",
    "fingerprint",
    "url",
    "group_key",
)


class MailKind(StrEnum):
    """What a mail is, decided by the email parser; the rules act on it."""

    NEW = "new"  # a fresh request or report from a person
    REPLY = "reply"  # refers to an incident the gateway knows (key or thread)
    AUTO_REPLY = "auto_reply"  # out-of-office, auto-submitted, list or bulk mail
    BOUNCE = "bounce"  # delivery status notification
    MONITORING = "monitoring"  # Nagios/Icinga/Zabbix notification mail


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    inline: bool = False
    content_id: str = ""

    def __post_init__(self) -> None:
        make_storable(self, ("filename", "content_type", "sha256", "content_id"))


@dataclass(frozen=True, slots=True)
class MailFacts:
    """What the email parser learned about a message, for rules and threading."""

    kind: MailKind
    message_id: str
    subject: str
    sender: str  # address from From:, lower-cased
    sender_name: str = ""
    recipients: tuple[str, ...] = ()
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    incident_keys: tuple[str, ...] = ()  # keys such as INC-000123 found in the subject
    body: str = ""  # the new text only: quoted history and signature stripped
    full_text: str = ""  # the whole readable text
    attachments: tuple[Attachment, ...] = ()
    auto_submitted: bool = False  # never answer this message
    bounced_message_ids: tuple[str, ...] = ()  # for DSNs: what bounced
    truncated: bool = False  # a parsing limit was hit; the raw record is complete
    defects: tuple[str, ...] = ()  # short notes on malformed input

    def __post_init__(self) -> None:
        make_storable(
            self,
            ("message_id", "subject", "sender", "sender_name", "body", "full_text"),
            sequences=_MAIL_SEQUENCES,
        )


@dataclass(frozen=True, slots=True)
class Event:
    """A normalized change of state of a service or CI.

    ``fingerprint`` is the source's own identity for the alert when it has
    one (Alertmanager's fingerprint, Zabbix's event id); empty otherwise,
    and the rule engine derives one. ``labels`` are flat strings; a parser
    keeps the source's original severity in ``labels['original_severity']``.
    """

    source: str
    kind: str
    name: str
    resource: str
    severity: Severity
    status: EventStatus
    summary: str
    occurred_at: datetime
    description: str = ""
    service: str = ""
    ci: str = ""
    environment: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    url: str = ""
    group_key: str = ""
    mail: MailFacts | None = None

    def __post_init__(self) -> None:
        # what a parser derives is stored in text columns: see core.storable
        make_storable(self, _EVENT_TEXTS, ("labels", "annotations"))

    def default_fingerprint(self) -> str:
        """A stable hash of source, resource, name and labels.

        Used when neither the source nor a rule provides a fingerprint. The
        labels are sorted so their order in the payload does not matter.
        """
        digest = hashlib.sha256()
        for part in (self.source, self.resource, self.name):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\x00")
        for key in sorted(self.labels):
            if key in VOLATILE_LABELS:
                continue
            digest.update(f"{key}={self.labels[key]}".encode("utf-8", "surrogatepass"))
            digest.update(b"\x00")
        return digest.hexdigest()[:32]
