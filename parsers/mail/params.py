"""Content-Type and Content-Disposition values and parameters (RFC 2045, RFC 2231).

Parsed here with one regular-expression pass because the stdlib's parameter
splitter is quadratic in the number of ';' inside quotes (64 KiB take two
seconds) and ``policy.default``'s structured parser is slower still. RFC 2231
sections are joined here too: ``email.utils.decode_params`` raises TypeError
when a name comes both with and without a section number.
"""

from __future__ import annotations

import email.utils
import re
import urllib.parse
from dataclasses import dataclass, field
from itertools import islice

from parsers.mail.charsets import CharsetDecoder
from parsers.mail.defects import Defects
from parsers.mail.headers import decode_words, to_bytes, unfold

_MAX_PARAMS = 64
_MAX_VALUE = 200  # of the main value ("multipart/mixed") and of a boundary

# "name*", "name*0", "name*0*": RFC 2231 extended values and sections.
_SECTION = re.compile(r"(?P<base>[^*]+)\*(?:(?P<number>\d{1,3})(?P<encoded>\*)?)?")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_PARAM = re.compile(
    r"""
    ;\s*(?P<name>[^\s=;"]+)\s*
    (?:=\s*(?P<value>"(?:[^"\\]|\\.)*+"?|[^;]*))?
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class ParamValue:
    """An unquoted parameter value; ``extended`` ones (RFC 2231) carry bytes as
    latin-1 characters and the charset they declare (None when they declare none)."""

    text: str
    extended: bool = False
    charset: str | None = None


@dataclass(frozen=True, slots=True)
class MimeHeader:
    value: str  # lower case: "text/plain", "attachment"
    params: dict[str, ParamValue] = field(default_factory=dict)

    def raw(self, name: str) -> str | None:
        """A parameter's text as written (for ASCII values: charset, boundary, report-type)."""
        found = self.params.get(name)
        return None if found is None else found.text

    def text(self, name: str, decoder: CharsetDecoder, defects: Defects) -> str | None:
        """A parameter decoded: RFC 2231 charset, RFC 2047 words or raw 8-bit bytes."""
        found = self.params.get(name)
        if found is None:
            return None
        if not found.extended:
            return decode_words(found.text, decoder, defects)
        result = decoder.decode(_latin1_bytes(found.text), found.charset)
        defects.add(result.defect and f"param_{result.defect}")
        return result.text


def parse_mime_header(raw: str) -> MimeHeader:
    """``text/plain; charset="gbk"`` -> MimeHeader("text/plain", {"charset": ...})."""
    text = unfold(raw)
    main, _, rest = text.partition(";")
    plain: dict[str, ParamValue] = {}
    sections: dict[str, dict[int, tuple[str, bool]]] = {}
    for match in islice(_PARAM.finditer(";" + rest), _MAX_PARAMS):
        name = match.group("name").lower()
        value = _unquoted((match.group("value") or "").strip())
        section = _SECTION.fullmatch(name)
        if section is None:
            plain.setdefault(name, ParamValue(value))
            continue
        number = int(section.group("number") or 0)
        encoded = section.group("number") is None or bool(section.group("encoded"))
        sections.setdefault(section.group("base"), {}).setdefault(number, (value, encoded))
    # RFC 2231 values win over plain ones of the same name (mailers send both).
    joined = {name: _joined(parts) for name, parts in sections.items()}
    return MimeHeader(main.strip().lower()[:_MAX_VALUE], {**plain, **joined})


def _joined(sections: dict[int, tuple[str, bool]]) -> ParamValue:
    """RFC 2231 sections in order; the first encoded one may start with charset'language'."""
    pieces: list[str] = []
    charset: str | None = None
    numbers = sorted(sections)
    for number in numbers:
        value, encoded = sections[number]
        if encoded and number == numbers[0] and value.count("'") >= 2:
            declared, _language, value = value.split("'", 2)
            charset = declared or None
        pieces.append(urllib.parse.unquote(value, encoding="latin-1") if encoded else value)
    extended = any(encoded for _, encoded in sections.values())
    return ParamValue("".join(pieces), extended, charset)


def _unquoted(value: str) -> str:
    """A quoted-string's content (backslash escapes undone); a token as it is."""
    if not value.startswith('"'):
        return value
    inner = value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
    return _ESCAPE.sub(r"\1", inner)


def canonical_content_type(header: MimeHeader) -> str:
    """What the stdlib parser is given: the type and, for multiparts, the boundary."""
    boundary = header.raw("boundary")
    if boundary and header.value.startswith("multipart/"):
        return f'{header.value}; boundary="{email.utils.quote(boundary[:_MAX_VALUE])}"'
    return header.value


def _latin1_bytes(text: str) -> bytes:
    try:
        return text.encode("latin-1", "surrogateescape")
    except UnicodeEncodeError:
        return to_bytes(text)
