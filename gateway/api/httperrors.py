"""Every HTTP error answer is JSON with ``error`` and ``message``, whoever raises it.

Two places produce answers without a handler's say: aiohttp's router and
request reading raise ``HTTPException`` (404, 405, 413) and the middleware
below turns those, refused bodies and bad parameters into JSON; the protocol
layer answers requests it cannot parse at all (a header past the size limit,
a broken request line) before any middleware runs, which is why the runner
here serves connections with a request handler whose error answer is JSON.
An unexpected exception is logged and answered 500 in the same shape.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import structlog
from aiohttp import hdrs, web

from gateway.api.bodies import RefusedBody
from gateway.api.jsonbody import json_error
from gateway.api.params import BadParameter

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Reason tokens where the status phrase would read worse than the ones used elsewhere.
_REASONS = {413: "too_large", 500: "internal_error"}
# An HTTPException's own headers that describe its plain-text body, not the answer.
_BODY_HEADERS = frozenset({hdrs.CONTENT_TYPE.lower(), hdrs.CONTENT_LENGTH.lower()})


def reason_of(status: int) -> str:
    """A reason token for a status: ``method_not_allowed`` for 405."""
    if status in _REASONS:
        return _REASONS[status]
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def _message(exc: web.HTTPException, request: web.BaseRequest) -> str:
    if isinstance(exc, web.HTTPNotFound):
        return f"no resource at {request.path}"
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return f"{request.method} is not allowed on {request.path}; allowed: {allowed}"
    text = exc.text or ""
    # aiohttp's default text is "404: Not Found"; anything else says more
    return text if text and not text.startswith(f"{exc.status}:") else exc.reason


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every error a route or aiohttp raises as JSON; log what nobody expected."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() not in _BODY_HEADERS}
        return json_error(exc.status, reason_of(exc.status), _message(exc, request), headers)
    except (BadParameter, RefusedBody) as exc:
        return json_error(exc.status, exc.reason, str(exc))
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("http_request_failed", method=request.method, path=request.path)
        return json_error(500, "internal_error", "the request failed; the error is logged")


class _JsonErrorRequestHandler(web.RequestHandler):
    """aiohttp's connection handler, answering unparseable requests in JSON."""

    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("the answer had started; no error answer can follow")
        if status >= 500:
            log.error("http_protocol_failed", status=status, exc_info=exc)
        else:
            # a sender's malformed request is its problem, not worth a traceback at error
            log.info("http_request_unreadable", status=status, error=message)
        text = message if status != 500 and message else HTTPStatus(status).description
        response = json_error(status, "bad_request" if status == 400 else reason_of(status), text)
        response.force_close()
        return response


class _JsonErrorServer(web.Server):
    def __call__(self) -> web.RequestHandler:
        return _JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class JsonErrorRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer protocol errors in JSON."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # same object, same state: only the factory of connection handlers differs
        server.__class__ = _JsonErrorServer
        return server
