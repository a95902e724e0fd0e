"""One message being read: the pieces of its event, each read once, defects noted.

:class:`MessageReading` holds what one ``parse`` call learns about a message
(its bounded MIME tree, header index, charset decoder and defects) and
reads the parts the event is built from: text, subject, sender, dates,
attachments. It lives for one call and is never shared.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.records import Attachment, IntakeRecord
from parsers.mail.addresses import Mailbox, recipients, sender
from parsers.mail.bounded import MimePart, parse_bounded
from parsers.mail.charsets import CharsetDecoder, Decoded
from parsers.mail.classify import Envelope, Signals, signals
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
from parsers.mail.options import EmailOptions
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
from parsers.mail.text import html_to_text, normalized

_DATE_LIMIT = 256  # longer Date values are garbage; policy.default would parse them slowly
_MAX_BOUNCED_IDS = 10
_HTML_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE
)
_PRIORITY_HEADERS = ("x-priority", "importance", "priority", "x-msmail-priority")


@dataclass(frozen=True, slots=True)
class ReadableText:
    full: str
    charset: str  # of the first text part; "" without text
    limits_hit: tuple[str, ...]  # "max_text_bytes", "max_html_bytes"


@dataclass(frozen=True, slots=True)
class DecodedPart:
    subtype: str  # "plain" or "html"
    data: bytes  # as decoded (within the byte limits)
    declared: str  # the charset label as written; "" when none
    decoded: Decoded


class MessageReading:
    """One message being read: its bounded MIME tree, header index, charset
    decoder and defects. Lives for one ``parse`` call; never shared."""

    def __init__(self, record: IntakeRecord, options: EmailOptions) -> None:
        self.record = record
        self._options = options
        self._defects = Defects()
        self._decoder = CharsetDecoder()
        # each body text part as it was decoded, for explanations (parsers.mail.diagnosis)
        self.decoded_parts: list[DecodedPart] = []
        bounded = parse_bounded(record.raw, options.limits)
        self.root = bounded.root
        self.limits_hit = bounded.limits_hit
        self.headers = index_headers(self.root)
        self._body = body_parts(self.root)
        for part in (self.root, *self._body):  # raw 8-bit headers are usually in these
            self._decoder.add_hint(declared_charset(part))

    def text(self) -> ReadableText:
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
        return ReadableText("\n\n".join(text for text in texts if text), charset, tuple(limits_hit))

    def _readable(self, part: TextPart, data: bytes, *, complete: bool) -> Decoded:
        """One part's bytes as normalised text (HTML converted) and the charset used."""
        html = part.subtype == "html"
        declared = part.charset or (_html_meta_charset(data) if html else None)
        decoded = self._decoder.decode(data, declared, complete=complete)
        self.decoded_parts.append(DecodedPart(part.subtype, data, declared or "", decoded))
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


def priority_header(headers: HeaderIndex) -> str:
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
