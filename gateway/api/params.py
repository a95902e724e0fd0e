"""Reading path and query parameters of the API: one reading per kind of value.

Every route reads numbers, flags and texts through these functions, so a
parameter the database cannot take never reaches it: numbers are ASCII
digits only (``str.isdigit`` also accepts "²" and "١", which ``int`` then
refuses or the database overflows on) within the signed 64-bit range of
the id columns, and texts carry no NUL (PostgreSQL refuses it in text).
What does not read answers 400 ``bad_parameter`` through the error
middleware (``gateway.api.httperrors``).
"""

from __future__ import annotations

from aiohttp import web

INT64_MAX = (1 << 63) - 1
_INT64_DIGITS = len(str(INT64_MAX))
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
MAX_KEY_LENGTH = 32
DEFAULT_PAGE = 50
MAX_PAGE = 500


class BadParameter(Exception):
    """A path or query parameter that cannot be read: 400 with the reason."""

    status = 400
    reason = "bad_parameter"


def whole_number(raw: str, name: str) -> int:
    """``raw`` as an int from 0 to INT64_MAX, or BadParameter."""
    digits = raw.lstrip("0") or "0"
    # the length first: int() of thousands of digits is slow, then refused
    if raw.isascii() and raw.isdigit() and len(digits) <= _INT64_DIGITS:
        number = int(digits)
        if number <= INT64_MAX:
            return number
    raise BadParameter(f"{name} must be a whole number from 0 to {INT64_MAX}, got {raw[:40]!r}")


def text(raw: str, name: str) -> str:
    if "\x00" in raw:
        raise BadParameter(f"{name} must not contain NUL characters")
    return raw


def query_int(request: web.Request, name: str) -> int | None:
    """An optional whole-number query parameter; absent is None, empty is no number."""
    raw = request.query.get(name)
    return None if raw is None else whole_number(raw, name)


def query_text(request: web.Request, name: str) -> str | None:
    """An optional text query parameter; absent or empty is None."""
    raw = request.query.get(name)
    return text(raw, name) if raw else None


def query_flag(request: web.Request, name: str) -> bool | None:
    """true/false (also 1/0, yes/no, any case); absent is None."""
    raw = request.query.get(name)
    if raw is None:
        return None
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadParameter(f"{name} must be true or false, got {raw[:40]!r}")


def page_size(request: web.Request) -> int:
    """``limit``: items per page, DEFAULT_PAGE when absent or 0, at most MAX_PAGE."""
    return min(query_int(request, "limit") or DEFAULT_PAGE, MAX_PAGE)


def path_int(request: web.Request, name: str) -> int:
    return whole_number(request.match_info[name], name)


def id_or_key(request: web.Request, name: str) -> int | str:
    """A path parameter naming a row by its numeric id or by its key (INC-000123)."""
    raw = text(request.match_info[name], name)
    if raw.isascii() and raw.isdigit():
        return whole_number(raw, name)
    if len(raw) > MAX_KEY_LENGTH:
        # longer than the key column: the database layer refuses it as a parameter
        raise BadParameter(f"{name}: a key has at most {MAX_KEY_LENGTH} characters")
    return raw
