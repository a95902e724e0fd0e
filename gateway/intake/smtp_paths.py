"""The address in a MAIL FROM or RCPT TO argument, parsed the way aiosmtpd parses it.

aiosmtpd defines a typing ``Protocol`` class inside its ``_getaddr`` on every
call, so each MAIL and RCPT pays for building a class, about a tenth of the
protocol's CPU per message. Here the same parse is a plain function, and
its results are remembered: a help desk's mail goes to a handful of
addresses from senders that write again, so most arguments repeat. The
cache is bounded; a client sending endless new addresses only churns it.
"""

from __future__ import annotations

from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from functools import lru_cache

_REMEMBERED_ARGUMENTS = 4096


@lru_cache(maxsize=_REMEMBERED_ARGUMENTS)
def parse_path(argument: str) -> tuple[str, str] | None:
    """(address, the rest of the argument) or None if it does not parse; ``argument``
    must not be empty."""
    try:
        if argument.lstrip().startswith("<"):
            angle, rest = get_angle_addr(argument)
            return str(angle.addr_spec), str(rest)
        spec, rest = get_addr_spec(argument)
        return str(spec.addr_spec), str(rest)
    except HeaderParseError:
        return None


def session_address(argument: str, local_part_limit: int) -> tuple[str | None, str | None]:
    """What ``aiosmtpd.smtp.SMTP._getaddr`` answers for ``argument``."""
    if not argument:
        return "", ""
    parsed = parse_path(argument)
    if parsed is None:
        return None, None
    address, rest = parsed
    if local_part_limit and len(address.rpartition("@")[0]) > local_part_limit:
        return None, None
    return address, rest
