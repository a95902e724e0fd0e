"""Text every database takes: no NUL and no lone surrogates.

PostgreSQL refuses NUL in ``text`` and in JSON strings, and no engine (nor
JSON) takes a ``str`` holding lone surrogates, which is what undecodable
bytes become where aiosmtpd and aiohttp decode protocol text with
``surrogateescape``. Text derived from intake is made storable where it is
made (the records parsers return build it so), with U+FFFD in place of what
cannot be stored; the exact bytes stay in the raw record, or (envelope
values) in base64 beside the readable value.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping

REPLACEMENT = "\ufffd"
# the key suffix under which an envelope value's exact bytes are kept
EXACT_SUFFIX = "_base64"

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# a re-written key keeps a readable head and ends with a digest of its exact bytes
_KEY_HEAD = 180


def is_storable(text: str) -> bool:
    if text.isascii():
        return "\x00" not in text
    return _UNSTORABLE.search(text) is None


def storable(text: str) -> str:
    """``text`` with U+FFFD in place of each NUL and lone surrogate."""
    return text if is_storable(text) else _UNSTORABLE.sub(REPLACEMENT, text)


def exact_bytes(text: str) -> bytes:
    """The bytes a protocol library decoded (UTF-8, undecodable ones as surrogates)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no byte decodes to: keep it as it is
        return text.encode("utf-8", "surrogatepass")


def storable_mapping(values: Mapping[str, str]) -> Mapping[str, str]:
    """Keys and values storable; ``values`` itself when they already are."""
    if all(is_storable(key) and is_storable(value) for key, value in values.items()):
        return values
    return {storable(key): storable(value) for key, value in values.items()}


def storable_envelope(values: Mapping[str, str]) -> dict[str, str]:
    """Envelope values storable without losing a byte: a value that is not storable
    text is kept readable (U+FFFD) and exactly, as base64, under ``<key>_base64``."""
    kept: dict[str, str] = {}
    for key, value in values.items():
        if is_storable(key) and is_storable(value):
            kept[key] = value
            continue
        name = storable(key)
        kept[name] = storable(value)
        kept[name + EXACT_SUFFIX] = base64.b64encode(exact_bytes(value)).decode("ascii")
    return kept


def storable_key(key: str) -> str:
    """A storable identity for ``key``: itself when storable, else its readable head
    and a digest of its exact bytes (two keys differing in one byte stay two keys)."""
    if is_storable(key):
        return key
    digest = hashlib.sha256(exact_bytes(key)).hexdigest()
    return f"{storable(key)[:_KEY_HEAD]}#sha256:{digest}"


def make_storable(
    instance: object,
    texts: tuple[str, ...],
    mappings: tuple[str, ...] = (),
    sequences: tuple[str, ...] = (),
) -> None:
    """Re-set the named fields of a frozen dataclass that hold unstorable text
    (for ``__post_init__``): ``texts`` are str, ``mappings`` str -> str, and
    ``sequences`` tuples of str."""
    values: list[str] = [getattr(instance, name) for name in texts]
    if not is_storable("".join(values)):  # one check for the common case: all storable
        for name, text in zip(texts, values, strict=True):
            object.__setattr__(instance, name, storable(text))
    for name in mappings:
        mapping: Mapping[str, str] = getattr(instance, name)
        if not is_storable("".join(mapping) + "".join(mapping.values())):
            object.__setattr__(instance, name, storable_mapping(mapping))
    for name in sequences:
        items: tuple[str, ...] = getattr(instance, name)
        if not all(is_storable(item) for item in items):
            object.__setattr__(instance, name, tuple(storable(item) for item in items))
