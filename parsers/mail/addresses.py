"""From/To/Cc parsing that refuses ambiguous addresses.

``email.utils.parseaddr`` used to pick the wrong address out of crafted
values (CVE-2023-27043): ``alice@evil.com@corp.com`` or
``"alice@evil.com" <bob@corp.com>`` read in the wrong place. Python 3.13
(and patched 3.11/3.12 releases) added ``getaddresses(..., strict=True)``;
:func:`strict_getaddresses` applies the same checks on any runtime. The
sender must then also agree with ``policy.default``'s RFC 5322 parser and be
a plain ``local@domain``; anything else yields no sender and a defect, never
a guess.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.headerregistry import AddressHeader
from email.message import Message

from parsers.mail.charsets import CharsetDecoder
from parsers.mail.defects import Defects
from parsers.mail.headers import decode_words, parsed, single_line, to_bytes, unfold

# policy.default's address parser is superlinear (64 KiB take half a second);
# a real From header is far shorter than this.
_STRUCTURED_LIMIT = 4096
_MAX_RECIPIENTS = 100

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*+"', re.DOTALL)
_ESCAPED = re.compile(r"\\.", re.DOTALL)
_PLAIN_ADDRESS = re.compile(r"[^@\s\"<>()\[\],;:\\]+@[^@\s\"<>()\[\],;:\\]+")
_NOTHING = [("", "")]
# "Name <local@domain>" with a name free of specials (or quoted), or a bare address.
_PLAIN_FROM = re.compile(
    r"""\s*(?:"(?:[^"\\]|\\.)*+"|[^"<>@,;:()\\]*)\s*<[^<>@\s]+@[^<>@\s]+>\s*
      | \s*[^\s"<>@,;:()\\]+@[^\s"<>@,;:()\\]+\s*""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Mailbox:
    address: str  # lower case
    display_name: str  # decoded


def strict_getaddresses(value: str) -> list[tuple[str, str]]:
    """``email.utils.getaddresses([value], strict=True)`` semantics: [('', '')] when in doubt.

    Checks, as CPython does: parentheses outside quoted names balance, no
    domain literal survives parsing half-read, and the parser found one
    address per comma outside quoted names.
    """
    unquoted = _QUOTED.sub("", value)
    if not _parentheses_balance(_ESCAPED.sub("", unquoted)):
        return list(_NOTHING)
    found = email.utils.getaddresses([value])
    if any("[" in address for _, address in found):
        return list(_NOTHING)
    if len(found) != 1 + unquoted.count(","):
        return list(_NOTHING)
    return found


def _parentheses_balance(text: str) -> bool:
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def plain_address(address: str) -> str | None:
    """The address lower-cased if it is exactly one clean ``local@domain``, else None."""
    try:
        text = to_bytes(address.strip()).decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text.lower() if _PLAIN_ADDRESS.fullmatch(text) else None


def sender(
    message: Message, raw_from: str | None, decoder: CharsetDecoder, defects: Defects
) -> Mailbox | None:
    """The one mailbox of From, when both parsers agree on it and it is plain."""
    if raw_from is None:
        defects.add("sender_missing")
        return None
    value = unfold(raw_from)
    found = strict_getaddresses(value)
    address = plain_address(found[0][1]) if len(found) == 1 else None
    if address is None or not _confirmed(message, value, address, defects):
        defects.add("sender_unparseable")
        return None
    display_name = single_line(decode_words(found[0][0], decoder, defects))
    if "@" in display_name and display_name.lower() != address:
        defects.add("sender_name_is_address")
    return Mailbox(address, display_name)


def _confirmed(message: Message, value: str, address: str, defects: Defects) -> bool:
    """policy.default's RFC 5322 parser must find the same single address. Where
    that parser fails (or the value is too long for it), only a plainly shaped
    value is believed: the fallback reading of the raw header."""
    if len(value) > _STRUCTURED_LIMIT:
        defects.add("header_too_long:from")
        return bool(_PLAIN_FROM.fullmatch(value))
    specs = parsed(message, "from", _addr_specs, defects)
    if specs is None:
        return bool(_PLAIN_FROM.fullmatch(value))
    return [spec.lower() for spec in specs] == [address]


def _addr_specs(header: object) -> list[str]:
    if not isinstance(header, AddressHeader):
        return []
    return [mailbox.addr_spec for mailbox in header.addresses]


def recipients(
    raw_values: Iterable[tuple[str, str]], envelope: str, defects: Defects
) -> tuple[str, ...]:
    """Addresses of To/Cc (``(name, raw value)`` pairs) and the envelope RCPT TO list."""
    found: dict[str, None] = {}
    for name, raw in raw_values:
        parsed_pairs = strict_getaddresses(unfold(raw))
        if parsed_pairs == _NOTHING and "@" in raw:
            defects.add(f"recipients_unparseable:{name}")
        for _, address in parsed_pairs:
            clean = plain_address(address)
            if clean:
                found.setdefault(clean, None)
    for address in envelope.split(","):
        clean = plain_address(address.strip().strip("<>"))
        if clean:
            found.setdefault(clean, None)
    return tuple(found)[:_MAX_RECIPIENTS]
