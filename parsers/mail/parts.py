"""The MIME tree walked for body text, attachments and bounced Message-IDs.

Attached messages (message/rfc822) are reported as one attachment and not
walked into for text: a forwarded or bounced message is not the sender's own
words. Walking is iterative; the tree is already bounded by ``bounded``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from core.records import Attachment
from parsers.mail.bounded import MimePart, serialized
from parsers.mail.charsets import CharsetDecoder
from parsers.mail.defects import Defects
from parsers.mail.headers import HEADER_PARSER_FAILURES, first, index_headers, message_ids

_BODY_TYPES = ("text/plain", "text/html")
# Machine-readable parts of delivery and disposition reports: read, not attachments.
_REPORT_TYPES = frozenset(
    {"message/delivery-status", "message/disposition-notification", "text/rfc822-headers"}
)
_ATTACHED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
_MAX_FILENAME = 255


@dataclass(frozen=True, slots=True)
class TextPart:
    subtype: str  # "plain" or "html"
    data: bytes
    charset: str | None  # as declared


def children(part: MimePart) -> list[MimePart]:
    """The sub-parts of a multipart; [] for leaves, attached messages and broken multiparts."""
    if part.get_content_maintype() != "multipart" or not part.is_multipart():
        return []
    return [child for child in part.get_payload() if isinstance(child, MimePart)]


def walk(root: MimePart) -> Iterator[MimePart]:
    """Every part in document order, without going into attached messages."""
    stack = [root]
    while stack:
        part = stack.pop()
        yield part
        stack.extend(reversed(children(part)))


def declared_charset(part: MimePart) -> str | None:
    return None if part.content_type is None else part.content_type.raw("charset")


def _marked_as_attachment(part: MimePart) -> bool:
    """Disposition attachment, or a file name: a text file sent along, not the body."""
    disposition = part.disposition
    if disposition is not None and (
        disposition.value == "attachment" or "filename" in disposition.params
    ):
        return True
    return part.content_type is not None and "name" in part.content_type.params


def _is_body_candidate(part: MimePart) -> bool:
    if part.get_content_type() in _BODY_TYPES:
        return not _marked_as_attachment(part)
    # A multipart whose boundary never appears is one block of text to the parser.
    return part.get_content_maintype() == "multipart" and not part.is_multipart()


def body_parts(part: MimePart) -> list[MimePart]:
    """The parts that make up the readable body, in order.

    multipart/alternative gives its text/plain choice, or else its HTML one;
    other multiparts give the bodies of all their children.
    """
    if _is_body_candidate(part):
        return [part]
    options = [body_parts(child) for child in children(part)]
    if part.get_content_type() != "multipart/alternative":
        return [found for option in options for found in option]
    for wanted in _BODY_TYPES:
        for option in options:
            if option and _has_text(option, wanted):
                return option
    return next((option for option in options if option), [])


def _has_text(option: list[MimePart], content_type: str) -> bool:
    return any(
        p.get_content_type() == content_type and str(p.get_payload()).strip() for p in option
    )


def text_parts(parts: list[MimePart]) -> list[TextPart]:
    """The body parts' decoded transfer encoding, with their declared charsets."""
    found = []
    for part in parts:
        subtype = "html" if part.get_content_type() == "text/html" else "plain"
        found.append(TextPart(subtype, payload_bytes(part), declared_charset(part)))
    return found


def payload_bytes(part: MimePart) -> bytes:
    """A leaf's content with its transfer encoding undone (b"" for containers)."""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def attachment_parts(root: MimePart, body: list[MimePart]) -> list[MimePart]:
    """Leaves that are neither body text nor report data, and attached messages."""
    in_body = {id(part) for part in body}
    found = []
    for part in walk(root):
        content_type = part.get_content_type()
        if id(part) in in_body or content_type in _REPORT_TYPES or children(part):
            continue
        if part.get_content_maintype() == "multipart":
            continue  # an empty multipart
        if content_type in _BODY_TYPES and not _marked_as_attachment(part):
            continue  # the alternative not chosen
        found.append(part)
    return found


def attachment(part: MimePart, decoder: CharsetDecoder, defects: Defects) -> Attachment:
    """What is known of one attachment; the bytes themselves stay in the raw record."""
    data = _attachment_bytes(part, defects)
    disposition = part.disposition.value if part.disposition is not None else ""
    return Attachment(
        filename=_filename(part, decoder, defects),
        content_type=part.get_content_type(),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        inline=disposition == "inline" or (not disposition and bool(part.content_id)),
        content_id=part.content_id,
    )


def _attachment_bytes(part: MimePart, defects: Defects) -> bytes:
    if part.get_content_type() not in _ATTACHED_MESSAGE_TYPES:
        return payload_bytes(part)
    try:
        return serialized(part)
    except HEADER_PARSER_FAILURES:
        defects.add("attached_message_unreadable")
        return b""


def _filename(part: MimePart, decoder: CharsetDecoder, defects: Defects) -> str:
    name = None
    if part.disposition is not None:
        name = part.disposition.text("filename", decoder, defects)
    if not name and part.content_type is not None:
        name = part.content_type.text("name", decoder, defects)
    if not name:
        return ""
    # Only the last path component: a name is metadata, never a path to write to.
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(char for char in base if char.isprintable()).strip()[:_MAX_FILENAME]


def bounced_message_ids(root: MimePart, limit: int) -> tuple[str, ...]:
    """Message-IDs of the returned message in a delivery report.

    Read from an attached message/rfc822 part (its headers) or a
    text/rfc822-headers part (headers as text).
    """
    found: list[str] = []
    for part in walk(root):
        content_type = part.get_content_type()
        if content_type in _ATTACHED_MESSAGE_TYPES and part.is_multipart():
            returned = part.get_payload(0)
            if isinstance(returned, MimePart):
                found.extend(message_ids(first(index_headers(returned), "message-id"), limit))
        elif content_type == "text/rfc822-headers":
            found.extend(message_ids_in_text(payload_bytes(part), limit))
    return tuple(dict.fromkeys(found))[:limit]


def message_ids_in_text(data: bytes, limit: int) -> tuple[str, ...]:
    """Message-ID header lines found in text (returned headers quoted in a bounce)."""
    found: list[str] = []
    for line in data.decode("ascii", "replace").splitlines():
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() == "message-id":
            found.extend(message_ids(value, limit))
    return tuple(dict.fromkeys(found))[:limit]


def stdlib_defects(root: MimePart, defects: Defects) -> None:
    """The stdlib parser's defects of every part, attached messages included."""
    for part in root.walk():
        for found in part.defects:
            defects.add_stdlib(found)
