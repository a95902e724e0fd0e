"""The stdlib parser (``policy.default``) run within limits on parts, depth and headers.

The feed parser builds every part it meets and recurses once per nesting
level, so a hostile message costs what its author wants: 10,000 parts take
seconds, 1,000 levels raise RecursionError. Here each part is a
:class:`MimePart` that counts itself as the parser attaches it and stops the
parse at a limit; what was built so far is kept. Headers past the count or
size limit are dropped or cut as they are stored.

MIME structure headers (Content-Type, Content-Disposition,
Content-Transfer-Encoding) are parsed once per distinct value, linearly, by
``params``; ``policy.default`` is handed a short canonical form of them as a
plain string. Its structured parser would otherwise re-parse them several
times per part (two seconds for one 64 KiB Content-Type). The raw values are
kept unchanged, and every other header keeps ``policy.default``'s
structured parsing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from email import policy as email_policy
from email.feedparser import BytesFeedParser
from email.generator import BytesGenerator
from email.message import Message
from email.policy import EmailPolicy
from io import BytesIO
from typing import Any, cast

from parsers.mail.params import MimeHeader, canonical_content_type, parse_mime_header

_CONTENT_TYPE = "content-type"
_DISPOSITION = "content-disposition"
_TRANSFER_ENCODING = "content-transfer-encoding"
_MIME_STRUCTURE = frozenset({_CONTENT_TYPE, _DISPOSITION, _TRANSFER_ENCODING})
# No legitimate MIME structure header is longer; RFC 2231 filenames stay well below.
_MIME_HEADER_LIMIT = 8192
_STRUCTURED_FACTORY = email_policy.default.header_factory


@dataclass(frozen=True, slots=True)
class Limits:
    max_parts: int
    max_depth: int
    max_headers: int
    max_header_bytes: int


class LimitReachedError(Exception):
    """Raised inside the feed parser to stop it; never leaves this module."""


class _Budget:
    """Counts parts over one whole message and notes which limits were hit.

    Also the per-message memo of parsed MIME structure headers: the feed
    parser asks for a part's Content-Type several times.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.parts = 0
        self.hit: dict[str, None] = {}
        self.root: MimePart | None = None
        self._parsed: dict[str, MimeHeader] = {}

    def mime_header(self, raw: str) -> MimeHeader:
        found = self._parsed.get(raw)
        if found is None:
            found = self._parsed[raw] = parse_mime_header(raw)
        return found

    def header_factory(self, name: str, value: str) -> Any:
        """policy.default's header factory, but MIME structure headers as canonical strings."""
        key = name.lower()
        if key == _TRANSFER_ENCODING:
            words = value.split()
            return words[0].lower()[:32] if words else ""
        if key == _CONTENT_TYPE:
            return canonical_content_type(self.mime_header(value))
        if key == _DISPOSITION:
            return self.mime_header(value).value
        return _STRUCTURED_FACTORY(name, value)

    def new_part(self, policy: Any = None) -> MimePart:
        part = MimePart(policy, self)
        if self.root is None:
            self.root = part
        return part

    def note(self, limit: str) -> None:
        self.hit.setdefault(limit, None)

    def admit(self, depth: int) -> None:
        """Count one more part at ``depth``; stop the parse past a limit."""
        if depth > self.limits.max_depth:
            self.note("max_depth")
            raise LimitReachedError
        if self.parts + 1 >= self.limits.max_parts:
            self.note("max_parts")
            raise LimitReachedError
        self.parts += 1


class MimePart(Message):
    """A message or body part as the bounded parser builds it.

    Besides the stdlib's view it keeps the parsed Content-Type and
    Content-Disposition (with all parameters) and the Content-ID.
    """

    def __init__(self, policy: Any, budget: _Budget) -> None:
        super().__init__(policy)
        self._budget = budget
        self._header_count = 0
        self.depth = 0
        self.content_type: MimeHeader | None = None
        self.disposition: MimeHeader | None = None
        self.content_id = ""

    def set_raw(self, name: str, value: Any) -> None:
        limits = self._budget.limits
        if self._header_count >= limits.max_headers:
            self._budget.note("max_headers")
            return
        self._header_count += 1
        key = name.strip().lower()
        size_limit = (
            min(limits.max_header_bytes, _MIME_HEADER_LIMIT)
            if key in _MIME_STRUCTURE
            else limits.max_header_bytes
        )
        text = str(value)
        if len(text) > size_limit:
            self._budget.note("max_header_bytes")
            text = text[:size_limit]
        if key == _CONTENT_TYPE and self.content_type is None:
            self.content_type = self._budget.mime_header(text)
        elif key == _DISPOSITION and self.disposition is None:
            self.disposition = self._budget.mime_header(text)
        elif key == "content-id" and not self.content_id:
            self.content_id = text.strip().strip("<>").strip()
        super().set_raw(name, text)

    def attach(self, payload: Any) -> None:
        depth = self.depth + 1
        self._budget.admit(depth)
        if isinstance(payload, MimePart):
            payload.depth = depth
        super().attach(payload)


# policy.default, typed for the parts built here.
_DEFAULT = cast("EmailPolicy[MimePart]", email_policy.default)
# Serialising an attached message keeps its header lines as they came.
_VERBATIM = _DEFAULT.clone(refold_source="none", linesep="\r\n")


@dataclass(frozen=True, slots=True)
class Bounded:
    root: MimePart
    limits_hit: tuple[str, ...]  # e.g. ("max_parts",); empty when the parse was complete


def parse_bounded(raw: bytes, limits: Limits) -> Bounded:
    """Parse ``raw`` with ``policy.default``, stopping at the first limit reached.

    On a limit the parts built so far are kept and ``limits_hit`` says which.
    """
    budget = _Budget(limits)
    policy = _DEFAULT.clone(header_factory=budget.header_factory, message_factory=budget.new_part)
    parser = BytesFeedParser(policy=policy)
    # admit() has noted which limit stopped the parse; the parts built before it stay.
    with contextlib.suppress(LimitReachedError):
        parser.feed(raw)
        parser.close()
    root = budget.root if budget.root is not None else budget.new_part(policy)
    return Bounded(root, tuple(budget.hit))


def serialized(part: MimePart) -> bytes:
    """An attached message as bytes: its header lines as they came, CRLF line ends."""
    buffer = BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=_VERBATIM).flatten(part)
    return buffer.getvalue()
