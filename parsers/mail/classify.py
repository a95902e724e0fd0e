"""What a mail is: incident keys, subject normalisation, auto-replies and bounces.

Precedence (first match wins): a bounce, a monitoring notification, an
auto-reply, a reply carrying an incident key, else a new mail. An
out-of-office answer to "[INC-000123] ..." is an auto-reply, not a comment
on the incident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.records import MailKind
from parsers.mail.headers import HeaderIndex, first, single_line, unfold

_MAX_KEYS = 20
_NAME_LIMIT = 200
NO_SUBJECT = "(no subject)"

# Reply and forward prefixes of common clients, in English, German, Nordic and Chinese.
_FORWARD_WORDS = r"fwd?|wg|转发|轉寄|转寄"
_PREFIX_WORDS = rf"re|aw|sv|vs|antw|回复|回覆|答复|{_FORWARD_WORDS}"
_PREFIXES = re.compile(rf"^(?:\s*(?:{_PREFIX_WORDS})\s*(?:\[\d+\]|\(\d+\))?\s*[:：])+", re.I)
_FORWARD = re.compile(rf"^\s*(?:{_FORWARD_WORDS})\s*(?:\[\d+\]|\(\d+\))?\s*[:：]", re.I)
# Out-of-office subjects: the phrase, then a separator or the end, so that
# "Absence of data on db01" stays a request.
_OUT_OF_OFFICE = re.compile(
    r"""^\s*[\[【(]?\s*(?:
        out\sof\s(?:the\s)?office(?:\sautoreply)?
      | automatic\sreply | auto[-\s]?reply | autoreply | abwesenheitsnotiz | absence
      | 自动回复 | 自动答复 | 休假 | 不在办公室
    )\s*(?:[:：\]】)\-]|$)""",
    re.IGNORECASE | re.VERBOSE,
)
_PRECEDENCE_AUTO = frozenset({"bulk", "junk", "list", "auto_reply"})
_SUPPRESS_AUTO = frozenset({"all", "oof", "autoreply"})

_BOUNCE_SUBJECT = re.compile(
    r"""undelivered\smail\sreturned\sto\ssender
      | delivery\sstatus\snotification
      | mail\sdelivery\sfail
      | undeliverable | returned\smail | failure\snotice | delivery\sfailure
      | 退信 | 投递失败 | 未能送达""",
    re.IGNORECASE | re.VERBOSE,
)
_DAEMON_SENDER = re.compile(
    r"mailer-daemon|postmaster|mail\sdelivery\s(?:system|subsystem)", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Envelope:
    """What classification reads of a message besides its body."""

    headers: HeaderIndex
    subject: str  # decoded
    content_type: str  # of the whole message: "multipart/report"
    report_type: str  # its report-type parameter, lower case: "delivery-status"
    mail_from: str | None  # SMTP MAIL FROM; "" or "<>" for a null return path; None if unknown


@dataclass(frozen=True, slots=True)
class Signals:
    """What the headers say about who, or what, sent the mail."""

    bounce: str = ""  # why it is a bounce: "dsn", "daemon_subject"; "" when it is not
    auto_reply: str = ""  # why it is automatic: "auto_submitted", "out_of_office", ...

    @property
    def auto_submitted(self) -> bool:
        """Never answer it (RFC 3834): bounces and every automatic mail."""
        return bool(self.bounce or self.auto_reply)


class IncidentKeys:
    """Incident keys such as INC-000123 in [brackets] (also 【】) of a subject, for one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._tag = re.compile(rf"[\[【]\s*{re.escape(prefix)}-(\d{{1,12}})\s*[\]】]", re.I)

    def found_in(self, subject: str) -> tuple[str, ...]:
        """The keys in order, once each, spelled with the configured prefix."""
        keys = dict.fromkeys(f"{self.prefix}-{digits}" for digits in self._tag.findall(subject))
        return tuple(keys)[:_MAX_KEYS]

    def removed_from(self, subject: str) -> str:
        return self._tag.sub(" ", subject)


def is_forward(subject: str) -> bool:
    """The outermost prefix is a forward (Fwd:/FW:/转发:); "Re: Fwd:" is a reply."""
    return bool(_FORWARD.match(subject))


def event_name(subject: str, keys: IncidentKeys) -> str:
    """The subject without reply/forward prefixes and incident keys, short."""
    name = single_line(_PREFIXES.sub("", single_line(keys.removed_from(subject))))
    return name[:_NAME_LIMIT] or NO_SUBJECT


def signals(envelope: Envelope) -> Signals:
    return Signals(bounce=_bounce(envelope), auto_reply=_auto_reply(envelope))


def kind_of(found: Signals, monitoring: bool, keys: tuple[str, ...]) -> MailKind:
    if found.bounce:
        return MailKind.BOUNCE
    if monitoring:
        return MailKind.MONITORING
    if found.auto_reply:
        return MailKind.AUTO_REPLY
    return MailKind.REPLY if keys else MailKind.NEW


def _value(headers: HeaderIndex, name: str) -> str:
    raw = first(headers, name)
    return "" if raw is None else unfold(raw).strip().lower()


def _null_sender(envelope: Envelope) -> bool:
    if envelope.mail_from is not None and envelope.mail_from.strip() in ("", "<>"):
        return True
    return _value(envelope.headers, "return-path").replace(" ", "") == "<>"


def _is_report(envelope: Envelope, report_type: str) -> bool:
    return envelope.content_type == "multipart/report" and envelope.report_type == report_type


def _bounce(envelope: Envelope) -> str:
    if _is_report(envelope, "delivery-status"):
        return "dsn"
    if not _BOUNCE_SUBJECT.search(envelope.subject):
        return ""
    if _DAEMON_SENDER.search(_value(envelope.headers, "from")) or _null_sender(envelope):
        return "daemon_subject"
    return ""


def _auto_reply(envelope: Envelope) -> str:
    headers = envelope.headers
    auto_submitted = _value(headers, "auto-submitted").split(";")[0].strip()
    if auto_submitted and auto_submitted != "no":
        return "auto_submitted"
    for name in ("x-autoreply", "x-autorespond"):
        if name in headers and _value(headers, name) != "no":
            return "x_autoreply"
    suppress = {token.strip() for token in _value(headers, "x-auto-response-suppress").split(",")}
    if suppress & _SUPPRESS_AUTO:
        return "auto_response_suppress"
    if _value(headers, "precedence") in _PRECEDENCE_AUTO:
        return "precedence"
    if "list-id" in headers or "list-unsubscribe" in headers:
        return "mailing_list"
    if _is_report(envelope, "disposition-notification"):
        return "read_receipt"
    if _null_sender(envelope):
        return "null_sender"
    if _OUT_OF_OFFICE.match(envelope.subject):
        return "out_of_office"
    return ""
