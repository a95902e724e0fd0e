"""Content-Type and Content-Disposition values and parameters (RFC 2045, RFC 2231).

Parsed here with one regular-expression pass because the stdlib's parameter
splitter is quadratic in the number of ';' inside quotes (64 KiB take two
seconds) and ``policy.default``'s structured parser is slower still. RFC 2231
continuations and charsets are joined by ``email.utils.decode_params``.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from itertools import islice

from parsers.mail.charsets import CharsetDecoder
from parsers.mail.defects import Defects
from parsers.mail.headers import decode_words, to_bytes, unfold

_MAX_PARAMS = 64
_MAX_VALUE = 200  # of the main value ("multipart/mixed") and of a boundary

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
    pairs = [
        (match.group("name").lower(), (match.group("value") or "").strip())
        for match in islice(_PARAM.finditer(";" + rest), _MAX_PARAMS)
    ]
    params: dict[str, ParamValue] = {}
    for name, value in email.utils.decode_params([("", ""), *pairs])[1:]:
        if isinstance(value, tuple):
            charset, _, quoted = value
            params.setdefault(name, ParamValue(email.utils.unquote(quoted), True, charset))
        else:
            params.setdefault(name, ParamValue(email.utils.unquote(value)))
    return MimeHeader(main.strip().lower()[:_MAX_VALUE], params)


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
