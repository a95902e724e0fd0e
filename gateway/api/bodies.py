"""Reading a request body: the one place Content-Encoding is decoded and bounded.

aiohttp's own decoding is switched off (``auto_decompress=False``) because it
answers in plain text before any handler runs when it lacks a decoder (br,
zstd), passes unknown encodings through as if they were identity, and lets
a truncated gzip stream through as a shorter body. Here every encoding is
either decoded completely, within the size limit, or refused with a reason.
"""

from __future__ import annotations

import asyncio
import zlib

from aiohttp import hdrs, web

# wbits for zlib: the gzip container, and the zlib (RFC 1950) and raw (RFC 1951)
# forms of deflate; senders use both of the latter for "deflate".
_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS
SUPPORTED_ENCODINGS = ("gzip", "deflate", "identity")
_ALIASES = {"x-gzip": "gzip", "identity": "identity", "gzip": "gzip", "deflate": "deflate"}
# Bodies above this are inflated in a thread, so the event loop keeps serving.
_THREAD_INFLATE_BYTES = 256 * 1024


class RefusedBody(Exception):
    """A body that will never be accepted as sent: the answer's status and reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def too_large(limit: int) -> RefusedBody:
    return RefusedBody(413, "too_large", f"body is larger than {limit} bytes (after decompression)")


def content_encodings(request: web.BaseRequest) -> list[str]:
    """The encodings applied to the body, in the order they were applied; 415 if unknown."""
    found = []
    for header in request.headers.getall(hdrs.CONTENT_ENCODING, []):
        for item in header.split(","):
            token = item.strip().lower()
            name = _ALIASES.get(token)
            if name is None:
                raise RefusedBody(
                    415,
                    "unsupported_encoding",
                    f"Content-Encoding {token!r} is not supported; "
                    f"send one of {', '.join(SUPPORTED_ENCODINGS)}",
                )
            if name != "identity":
                found.append(name)
    return found


async def read_body(request: web.BaseRequest, limit: int) -> bytes:
    """The decoded body, at most ``limit`` bytes; RefusedBody (413/415/400) otherwise."""
    encodings = content_encodings(request)
    length = request.content_length
    if length is not None and length > limit:
        raise too_large(limit)
    raw = await _read_raw(request, limit)
    if not encodings:
        return raw
    if len(raw) > _THREAD_INFLATE_BYTES:
        return await asyncio.to_thread(_decoded, raw, encodings, limit)
    return _decoded(raw, encodings, limit)


async def _read_raw(request: web.BaseRequest, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
    except web.RequestPayloadError as exc:
        raise RefusedBody(400, "bad_body", f"the body could not be read: {exc}") from exc
    return b"".join(chunks)


def _decoded(raw: bytes, encodings: list[str], limit: int) -> bytes:
    body = raw
    # the last encoding applied is the first to undo
    for encoding in reversed(encodings):
        body = _inflate(body, encoding, limit)
    return body


def _inflate(data: bytes, encoding: str, limit: int) -> bytes:
    if encoding == "gzip":
        wbits = _GZIP
    else:
        # RFC 1950 says zlib's header; many senders send raw deflate: the header tells
        wbits = _ZLIB if data[:1] and data[0] & 0x0F == 8 else _RAW_DEFLATE
    out = b""
    rest = data
    try:
        while True:
            inflater = zlib.decompressobj(wbits)
            out += inflater.decompress(rest, limit + 1 - len(out))
            if len(out) > limit:
                raise too_large(limit)
            if not inflater.eof:
                raise _bad_encoding(encoding, "the compressed stream ends early")
            rest = inflater.unused_data
            # gzip allows several members one after the other; deflate does not
            if not rest or encoding != "gzip":
                break
    except zlib.error as exc:
        raise _bad_encoding(encoding, str(exc)) from exc
    if rest:
        raise _bad_encoding(encoding, "data follows the end of the compressed stream")
    return out


def _bad_encoding(encoding: str, why: str) -> RefusedBody:
    return RefusedBody(400, "bad_encoding", f"the body is not valid {encoding}: {why}")
