"""Reading the request form: multipart streamed with every part bounded, and files
checked against the allowed types by what they contain, not only what they claim.

Nothing here stores anything: a form is read whole and checked before the one
commit, so a refused form leaves no trace but a metric.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

TEXT_PART_BYTES = 64 * 1024  # any one text field
_CHUNK = 64 * 1024
_DRAIN_FACTOR = 4  # a file this many times over the limit refuses the whole form
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}


class FormRefused(Exception):
    """The form cannot be read at all (``reason``: too_large, bad_form)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class ReadForm:
    values: dict[str, str] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    # (filename, problem) of files refused while reading: too_large
    refused: list[tuple[str, str]] = field(default_factory=list)


async def read_form(request: web.Request, max_files: int, max_file_bytes: int) -> ReadForm:
    """The form's fields and files; a file over ``max_file_bytes`` is noted and dropped
    unread beyond the limit; more parts than any form has refuse the whole form."""
    found = ReadForm()
    if not request.content_type.startswith("multipart/"):
        posted = await request.post()
        found.values = {key: str(value) for key, value in posted.items() if isinstance(value, str)}
        return found
    try:
        reader = await request.multipart()
        parts = 0
        while (part := await reader.next()) is not None:
            parts += 1
            if parts > 64 + max_files or not isinstance(part, BodyPartReader):
                raise FormRefused("bad_form")
            await _read_part(part, found, max_file_bytes)
    except (ValueError, AssertionError) as exc:  # a malformed multipart body
        raise FormRefused("bad_form") from exc
    return found


async def _read_part(part: BodyPartReader, found: ReadForm, max_file_bytes: int) -> None:
    name = part.name or ""
    if part.filename is None:
        data = await _bounded(part, TEXT_PART_BYTES)
        if data is None:
            raise FormRefused("too_large")
        found.values[name] = data.decode("utf-8", "replace")
        return
    # browsers escape quotes and line breaks in the name as %22 and %0A, some clients more
    filename = unquote(part.filename)[:255]
    data = await _bounded(part, max_file_bytes)
    if data is None:
        found.refused.append((filename, "too_large"))
    elif filename or data:  # an empty file input sends a part with no name and no bytes
        declared = part.headers.get("Content-Type", "application/octet-stream")
        found.uploads.append(Upload(filename, declared.split(";", 1)[0].strip().lower(), data))


async def _bounded(part: BodyPartReader, limit: int) -> bytes | None:
    """The part's bytes, or None when it is longer than ``limit`` (the rest is drained)."""
    data = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        if len(data) + len(chunk) > limit:
            await _drain(part, limit, len(data) + len(chunk))
            return None
        data.extend(chunk)
    return bytes(data)


async def _drain(part: BodyPartReader, limit: int, seen: int) -> None:
    """Skip the rest of a part that is too large, so the form's other fields can still be
    read and the requester told which file it was; a part far beyond the limit refuses
    the whole form instead of being read to its end."""
    while seen <= _DRAIN_FACTOR * limit:
        chunk = await part.read_chunk(_CHUNK)
        if not chunk:
            return
        seen += len(chunk)
    raise FormRefused("too_large")


def effective_type(upload: Upload) -> str:
    """The declared type, or the one its name suggests when the browser declared none."""
    declared = upload.content_type
    if declared in ("", "application/octet-stream"):
        return mimetypes.guess_type(upload.filename)[0] or declared
    return declared


def file_problem(upload: Upload, allowed: Sequence[str]) -> str | None:
    """None when the file is of an allowed type and looks like it; else the problem."""
    declared = effective_type(upload)
    if declared not in allowed:
        return "type_not_allowed"
    if declared == "text/plain":
        try:
            text = upload.data.decode("utf-8")
        except UnicodeDecodeError:
            return "content_mismatch"
        return "content_mismatch" if "\x00" in text else None
    magic = _MAGIC.get(declared)
    if magic is not None and not upload.data.startswith(magic):
        return "content_mismatch"
    return None


def attachments(form: ReadForm) -> list[dict[str, str]]:
    """The form's files as the stored record keeps them (bytes in base64)."""
    return [
        {
            "filename": upload.filename,
            "content_type": effective_type(upload),
            "data_base64": base64.b64encode(upload.data).decode(),
        }
        for upload in form.uploads
    ]
