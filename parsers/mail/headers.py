"""Raw header values, RFC 2047 encoded words, and Message-ID lists.

Text headers (Subject, display names, filenames) are decoded here from the
raw value rather than by ``policy.default``: that policy decodes each encoded
word on its own with the declared charset, which breaks a character split
across two words and GBK text declared as gb2312. Here adjacent words of one
charset are joined before decoding, and :class:`CharsetDecoder` reads labels
as their supersets and decodes raw 8-bit bytes too.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator, Mapping
from email import errors
from email.message import Message
from typing import TypeVar

from parsers.mail.charsets import CharsetDecoder
from parsers.mail.defects import Defects

T = TypeVar("T")

# What CPython's structured header parser raises on hostile input instead of
# recording a defect: 'From: "' raises IndexError, 'From: <@[ ' raises
# UnboundLocalError (a NameError), 'From: .x <a@b>' AttributeError, and a Date
# with a twenty-digit day OverflowError.
HEADER_PARSER_FAILURES = (
    errors.MessageError,
    AttributeError,
    LookupError,
    NameError,
    OverflowError,
    TypeError,
    ValueError,
)

_FOLD = re.compile(r"\r\n|\r|\n")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f\x85\u2028\u2029]+")
_ANGLE_ID = re.compile(r"<\s*([^<>\s]{1,998})\s*>")
_BARE_ID = re.compile(r"[^<>\s,;]{1,998}@[^<>\s,;]{1,998}")
_PRINTABLE_ASCII = re.compile(r"[!-~]+")

HeaderIndex = Mapping[str, tuple[str, ...]]


def index_headers(message: Message) -> HeaderIndex:
    """Raw values of every header by lower-case name, in order of appearance."""
    index: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        index.setdefault(name.strip().lower(), []).append(str(value))
    return {name: tuple(values) for name, values in index.items()}


def first(index: HeaderIndex, name: str) -> str | None:
    values = index.get(name)
    return values[0] if values else None


def unfold(raw: str) -> str:
    """RFC 5322 unfolding: line breaks go, the whitespace after them stays."""
    return _FOLD.sub("", raw)


def single_line(text: str) -> str:
    """Whitespace and control characters collapsed to single spaces, ends trimmed."""
    return _CONTROL_OR_SPACE.sub(" ", text).strip()


def to_bytes(text: str) -> bytes:
    """The bytes a raw header value came from (8-bit bytes are surrogates in it)."""
    return text.encode("utf-8", "surrogateescape")


def decode_words(raw: str, decoder: CharsetDecoder, defects: Defects) -> str:
    """A raw header value as text: encoded words and raw 8-bit bytes decoded."""
    text = unfold(raw)
    decoded = []
    for charset, data in _joined_pieces(text):
        if charset is None and data.isascii():
            decoded.append(data.decode("ascii"))
            continue
        result = decoder.decode(data, charset)
        defects.add(result.defect and f"header_{result.defect}")
        decoded.append(result.text)
    return "".join(decoded)


def _joined_pieces(text: str) -> list[tuple[str | None, bytes]]:
    """Literal runs (charset None) and encoded words, adjacent words of one charset joined.

    Whitespace between two encoded words is dropped (RFC 2047 section 6.2);
    joining the bytes keeps a multi-byte character split across words whole.
    """
    pieces: list[tuple[str | None, bytes]] = []
    for charset, data in _pieces(text):
        if pieces and charset is not None and pieces[-1][0] == charset:
            pieces[-1] = (charset, pieces[-1][1] + data)
        else:
            pieces.append((charset, data))
    return pieces


def _pieces(text: str) -> Iterator[tuple[str | None, bytes]]:
    position = 0
    previous_was_word = False
    for match in _ENCODED_WORD.finditer(text):
        literal = text[position : match.start()]
        if literal and not (previous_was_word and literal.isspace()):
            yield None, to_bytes(literal)
        charset = match.group(1).split("*", 1)[0].lower()
        yield charset, _word_bytes(match.group(2), match.group(3))
        position = match.end()
        previous_was_word = True
    if position < len(text):
        yield None, to_bytes(text[position:])


def _word_bytes(encoding: str, payload: str) -> bytes:
    data = to_bytes(payload)
    if encoding in "qQ":
        return binascii.a2b_qp(data, header=True)
    return lenient_base64(data.decode("ascii", "replace"))


def lenient_base64(text: str) -> bytes:
    """Base64 that skips stray characters and tolerates missing padding."""
    cleaned = _NOT_BASE64.sub("", text)
    if len(cleaned) % 4 == 1:  # a lone trailing character carries no whole byte
        cleaned = cleaned[:-1]
    return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))


def message_ids(raw: str | None, limit: int) -> tuple[str, ...]:
    """Message-IDs in a header, without angle brackets, de-duplicated.

    Past ``limit`` the first one (the thread's root) and the most recent
    ones are kept: those are the ones threading needs.
    """
    if not raw:
        return ()
    text = unfold(raw)
    found = [match.group(1) for match in _ANGLE_ID.finditer(text)]
    if not found:  # some mailers leave the brackets out
        found = _BARE_ID.findall(text)
    unique = list(dict.fromkeys(i for i in found if _PRINTABLE_ASCII.fullmatch(i)))
    if len(unique) > limit:
        unique = unique[:1] + unique[len(unique) - limit + 1 :]
    return tuple(unique)


def parsed(message: Message, name: str, read: Callable[[object], T], defects: Defects) -> T | None:
    """``read`` applied to ``policy.default``'s parsed header, or None (and a defect)
    when its parser fails on the value."""
    try:
        header = message.get(name)
        return None if header is None else read(header)
    except HEADER_PARSER_FAILURES:
        defects.add(f"header_unparseable:{name.lower()}")
        return None
