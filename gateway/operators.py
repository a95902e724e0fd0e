"""Operator actions in the log: what was done and by whom, at info, never a body,
a comment or a secret. The same actions are kept for good in the audit log
(storage.audit), written by storage with the change itself.

Who: the author the request names (acknowledge, resolve, silences), and how it
was let in: with the API token, or as a loopback client without one, from
which address.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from gateway.web.clientaddr import CLIENT_ADDRESS
from storage import Operator

log = structlog.get_logger("gateway.operators")


def requester(request: web.Request) -> str:
    """How the caller was let in and from where, e.g. ``api_token@10.0.0.5``."""
    via = "api_token" if request.headers.get("Authorization") else "loopback"
    # the client behind a trusted proxy, as the API's guard found it
    return f"{via}@{request.get(CLIENT_ADDRESS) or request.remote or 'unknown'}"


def operator(request: web.Request, author: str = "") -> Operator:
    """The audit log's who: the name given (else how they came in), and how they came in."""
    via = requester(request)
    return Operator(actor=author or via, via=via)


def operator_log(request: web.Request, action: str, **facts: Any) -> None:
    log.info(action, by=requester(request), **facts)
