"""The identity of a mail, read from a few raw headers (no MIME parsing).

The same mail arrives twice when an MTA retries after a lost 250, when the
IMAP poller restarts between storing a message and flagging it, when a
mailbox is recreated (new UIDVALIDITY), or when one copy comes by SMTP and
another by IMAP. Every such copy gets the same de-duplication key:

- with a Message-ID: ``mail:`` + sha256(message-id ``|`` envelope sender).
  The sender is part of it so that someone reusing another sender's
  Message-ID cannot suppress that sender's mail. SMTP takes the sender from
  MAIL FROM; IMAP from the Return-Path header, which the delivering MTA wrote
  from that same MAIL FROM.
- without one: ``mail-content:`` + sha256(the raw bytes).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection

# Headers are read from this many leading bytes at most: a hostile message
# with megabytes of headers costs no more than a normal one.
HEADER_SCAN_BYTES = 256 * 1024

MESSAGE_ID = b"message-id"
RETURN_PATH = b"return-path"

_BRACKETED = re.compile(r"<([^<>\s]*)>")


def _text(value: bytes) -> str:
    # surrogateescape keeps every byte, so equal bytes always give equal keys
    return value.decode("utf-8", "surrogateescape")


def _header_block(raw: bytes) -> bytes:
    """The leading bytes up to the blank line that ends the headers (within the scan
    limit): the body is never split into lines."""
    scan = raw[:HEADER_SCAN_BYTES]
    ends = [at for at in (scan.find(b"\n\r\n"), scan.find(b"\n\n")) if at >= 0]
    return scan[: min(ends) + 1] if ends else scan


def read_headers(raw: bytes, names: Collection[bytes]) -> dict[bytes, str]:
    """The first value of each wanted header (lower-case names), unfolded and stripped."""
    found: dict[bytes, str] = {}
    current: bytes | None = None
    for line in _header_block(raw).split(b"\n"):
        line = line.removesuffix(b"\r")
        if not line:
            break  # the blank line that ends the header block
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                found[current] = f"{found[current]} {_text(line.strip())}".strip()
            continue
        current = None
        name, colon, value = line.partition(b":")
        key = name.strip().lower()
        if colon and key in names and key not in found:
            found[key] = _text(value.strip())
            current = key
    return found


def normalise_message_id(value: str) -> str:
    """``<id@host>`` (with comments or folding around it) -> ``id@host``; '' if none."""
    match = _BRACKETED.search(value)
    if match:
        return match.group(1)
    return "".join(value.split())


def normalise_address(value: str) -> str:
    """An envelope address as compared: the part in angle brackets (if any), lower-cased.

    The null sender (``<>``) is the empty string.
    """
    match = _BRACKETED.search(value)
    return (match.group(1) if match else value.strip()).lower()


def mail_dedup_key(raw: bytes, sender: str) -> str:
    """The de-duplication key of a mail; ``sender`` is the envelope sender."""
    message_id = normalise_message_id(read_headers(raw, (MESSAGE_ID,)).get(MESSAGE_ID, ""))
    if message_id:
        identity = f"{message_id}|{normalise_address(sender)}"
        return "mail:" + hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()
    return "mail-content:" + hashlib.sha256(raw).hexdigest()


def imap_key(account: str, folder: str, uidvalidity: int, uid: int) -> str:
    """Where an IMAP message was taken from; kept in the record's meta."""
    return f"imap:{account}:{folder}:{uidvalidity}:{uid}"
