"""Charset names to codecs, and decoding that never gives up.

Mailers often declare a charset that is narrower than what they send
(``gb2312`` for GBK text, ``big5`` for HKSCS characters), declare none, or
declare a wrong one. :class:`CharsetDecoder` prefers the declared charset
(read as its common superset) when it decodes cleanly, then tries what worked
elsewhere in the same message, then asks charset-normalizer, and as a last
resort decodes UTF-8 with replacement characters.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass

import charset_normalizer

# Declared names read as the codecs mailers really use, tried in order.
_SUPERSETS: Mapping[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "gb2312",
            "gb_2312",
            "gb_2312-80",
            "gb-2312",
            "csgb2312",
            "euc-cn",
            "x-euc-cn",
            "gbk",
            "x-gbk",
            "cp936",
            "ms936",
            "windows-936",
            "chinese",
            "gb18030",
        ),
        ("gb18030",),
    ),
    **dict.fromkeys(
        ("big5", "x-big5", "cn-big5", "csbig5", "big5-hkscs", "big5hkscs", "cp950"),
        ("big5hkscs", "cp950"),
    ),
    **dict.fromkeys(
        ("iso-2022-jp", "csiso2022jp", "iso-2022-jp-2", "iso-2022-jp-ext"),
        ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2"),
    ),
    **dict.fromkeys(
        ("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis", "windows-31j"),
        ("cp932",),
    ),
    **dict.fromkeys(("euc-kr", "ks_c_5601-1987", "ks_c_5601", "korean", "cp949"), ("cp949",)),
    # WHATWG practice: latin-1 labels are windows-1252, which adds typographic marks.
    **dict.fromkeys(
        ("iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "iso_8859-1", "cp819"),
        ("cp1252", "latin-1"),
    ),
}

# Labels that say nothing about 8-bit bytes. us-ascii is here because 8-bit
# bytes under it mean the mailer did not know what it sent.
_UNDECLARED = frozenset(
    {
        "",
        "unknown-8bit",
        "x-unknown",
        "unknown",
        "default",
        "8bit",
        "x-user-defined",
        "us-ascii",
        "ascii",
        "us",
        "ansi_x3.4-1968",
        "646",
    }
)

# What a charset label may look like (IANA names and their common misspellings).
_LABEL = re.compile(r"[a-z0-9][a-z0-9._:+-]{0,39}")
# Python codecs no mailer means: they rewrite text (escapes, IDNA) rather than decode it.
_NOT_CHARSETS = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode"})

# Codec names (as ``codecs.lookup`` spells them) of single-byte charsets: they
# decode any byte, so decoding cleanly proves nothing about them.
_SINGLE_BYTE_PREFIXES = ("iso8859", "cp125", "latin", "koi8", "mac-", "cp437", "cp850", "cp866")

# What the detector may answer: the charsets mail to a help desk arrives in.
# Without this list it guesses exotic codecs (johab for Big5 text).
_DETECTABLE = (
    "utf_8",
    "gb18030",
    "big5hkscs",
    "cp950",
    "cp932",
    "euc_jp",
    "iso2022_jp",
    "cp949",
    "cp1252",
    "iso8859_15",
    "cp1250",
    "cp1251",
    "koi8_r",
    "iso8859_2",
    "cp1253",
    "cp1254",
)
_DETECTION_SAMPLE = 64 * 1024

# ESC starts the designations of the ISO-2022 family, which is 7-bit.
_ESC = b"\x1b"


@dataclass(frozen=True, slots=True)
class Decoded:
    """Text and the codec that produced it; ``defect`` names a problem, if any."""

    text: str
    charset: str
    defect: str = ""


def normalized_label(declared: str | None) -> str:
    """A declared charset label as compared: trimmed, unquoted, lower case."""
    if declared is None:
        return ""
    return declared.strip().strip("\"'").strip().lower()


def codecs_for(declared: str | None) -> tuple[str, ...] | None:
    """The codecs to try for a declared label; () when it says nothing, None when unknown."""
    label = normalized_label(declared)
    if label in _UNDECLARED:
        return ()
    known = _SUPERSETS.get(label)
    if known is not None:
        return known
    if not _LABEL.fullmatch(label):
        return None
    try:
        name = codecs.lookup(label).name
        b"a".decode(name, "ignore")  # bytes-to-bytes codecs (base64, zlib) are no text encodings
    except (LookupError, UnicodeError):
        return None
    return None if name in _NOT_CHARSETS else (name,)


def _strict(data: bytes, codec: str, *, complete: bool = True) -> str | None:
    """Decoded text, or None on any invalid sequence. For data cut short
    (``complete=False``) an unfinished character at the end is dropped."""
    try:
        return codecs.getincrementaldecoder(codec)().decode(data, final=complete)
    except UnicodeError:
        return None


def _is_single_byte(codec: str) -> bool:
    return codecs.lookup(codec).name.startswith(_SINGLE_BYTE_PREFIXES)


def _canonical(codec: str) -> str:
    return codecs.lookup(codec).name


def detect(data: bytes) -> str | None:
    """charset-normalizer's best guess among the charsets mail arrives in; None: no guess."""
    best = charset_normalizer.from_bytes(
        data[:_DETECTION_SAMPLE], cp_isolation=list(_DETECTABLE)
    ).best()
    return None if best is None else best.encoding


def decodes_strictly(data: bytes, codec: str, *, complete: bool = True) -> bool:
    return _strict(data, codec, complete=complete) is not None


class CharsetDecoder:
    """Decodes the byte strings of one message.

    Not shared between messages: it remembers which codecs worked, as hints
    for undeclared bytes later in the same message (raw 8-bit headers are
    usually in the body's charset), and it caps how often the detector runs.
    """

    def __init__(self, *, max_detections: int = 8) -> None:
        self._hints: list[str] = []
        self._detections_left = max_detections

    def add_hint(self, declared: str | None) -> None:
        """Remember a charset the message declares somewhere, for undeclared bytes."""
        for codec in codecs_for(declared) or ():
            self._remember(codec)

    def decode(self, data: bytes, declared: str | None = None, *, complete: bool = True) -> Decoded:
        """``data`` as text; ``complete=False`` when it was cut at a size limit."""
        candidates = codecs_for(declared)
        for codec in candidates or ():
            text = _strict(data, codec, complete=complete)
            if text is None:
                continue
            if _is_single_byte(codec) and not data.isascii():
                utf8 = _strict(data, "utf-8", complete=complete)
                if utf8 is not None:
                    return Decoded(utf8, "utf-8", f"charset_mismatch:{normalized_label(declared)}")
            self._remember(codec)
            return Decoded(text, _canonical(codec), "")
        found = self._undeclared(data, complete)
        if candidates is None:
            return Decoded(
                found.text, found.charset, f"charset_unknown:{normalized_label(declared)}"
            )
        if candidates and not found.defect:
            return Decoded(
                found.text, found.charset, f"charset_mismatch:{normalized_label(declared)}"
            )
        return found

    def _undeclared(self, data: bytes, complete: bool) -> Decoded:
        if data.isascii() and _ESC not in data:
            return Decoded(data.decode("ascii"), "ascii")
        first_choices = ("iso2022_jp_2",) if _ESC in data else ("utf-8",)
        for codec in (*first_choices, *self._hints):
            text = _strict(data, codec, complete=complete)
            if text is not None:
                return Decoded(text, _canonical(codec))
        detected = self._detect(data)
        if detected is not None:
            self._remember(detected)
            return Decoded(data.decode(detected, "replace"), _canonical(detected))
        return Decoded(data.decode("utf-8", "replace"), "utf-8", "undecodable_bytes")

    def _detect(self, data: bytes) -> str | None:
        if self._detections_left <= 0:
            return None
        self._detections_left -= 1
        return detect(data)

    def _remember(self, codec: str) -> None:
        if codec not in self._hints:
            self._hints.append(codec)
