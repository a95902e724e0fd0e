"""JSON answers encoded with orjson straight to bytes: aiohttp's own helper goes
through the standard library's encoder and a str, which shows on the intake path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web


def json_response(
    payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def json_error(
    status: int, reason: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """The error body every endpoint uses: a machine-readable reason and a sentence."""
    return json_response({"error": reason, "message": message}, status=status, headers=headers)
