"""Bad requests through the real HTTP listener: each gets a 4xx JSON answer with a reason.

A 500 makes Alertmanager and most webhook senders retry forever, a 202 for a
body the pipeline cannot parse loses it, and a plain-text answer leaves the
sender without a reason. Requests are written byte by byte on a socket so
that no client library normalizes the path, the headers or the body first.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from storage import models
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, running_daemon

INT64_PLUS = "99999999999999999999"


def nested(depth: int, leaf: Any = "x") -> Any:
    """A value with ``depth`` arrays around ``leaf``."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def alert_group(**alert_fields: Any) -> dict[str, Any]:
    alert = {
        "status": "firing",
        "labels": {"alertname": "DiskFull", "instance": "db1"},
        "annotations": {"summary": "disk full"},
        "startsAt": "2026-01-01T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        **alert_fields,
    }
    return {"version": "4", "status": "firing", "alerts": [alert]}


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


async def exchange(
    daemon: RunningDaemon,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request written as raw bytes; the answer read until the server closes."""
    host, port = daemon.base_url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    writer.write("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found = dict(line.split(": ", 1) for line in header_lines if ": " in line)
    found = {name.lower(): value for name, value in found.items()}
    if found.get("transfer-encoding") == "chunked":
        payload = _unchunked(payload)
    return Answer(int(status_line.split()[1]), found.get("content-type", ""), payload)


def _unchunked(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out


@dataclass(frozen=True)
class Bad:
    what: str
    method: str
    path: str
    status: int
    reason: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


JSON = {"Content-Type": "application/json"}
GENERIC_ALERT = {"name": "disk full", "resource": "db1"}


def _json(value: Any) -> bytes:
    return orjson.dumps(value) if not isinstance(value, bytes) else value


def _deep_json(depth: int) -> bytes:
    # orjson refuses to write what it reads past 254 levels, so build the text
    return b'{"name": "n", "resource": "r", "labels": {"x": ' + b"[" * depth + b"]" * depth + b"}}"


WEBHOOK_REFUSALS = [
    Bad(
        "generic field nested 300 deep",
        "POST",
        "/webhooks/generic",
        400,
        "too_deep",
        _deep_json(300),
        JSON,
    ),
    Bad(
        "generic field nested 255 deep",
        "POST",
        "/webhooks/generic",
        400,
        "too_deep",
        _deep_json(255),
        JSON,
    ),
    Bad(
        "alertmanager generatorURL nested 300 deep",
        "POST",
        "/webhooks/alertmanager",
        400,
        "too_deep",
        b'{"version": "4", "status": "firing", "alerts": [{"status": "firing", '
        b'"labels": {"alertname": "A"}, "generatorURL": ' + b"[" * 300 + b"]" * 300 + b"}]}",
        JSON,
    ),
    Bad(
        "alertmanager unknown field nested 200 deep",
        "POST",
        "/webhooks/alertmanager",
        400,
        "too_deep",
        _json(alert_group(extra=nested(200))),
        JSON,
    ),
    Bad(
        "corrupt gzip body",
        "POST",
        "/webhooks/generic",
        400,
        "bad_encoding",
        b"\x1f\x8b\x08\x00garbage",
        {**JSON, "Content-Encoding": "gzip"},
    ),
    Bad(
        "truncated gzip body",
        "POST",
        "/webhooks/generic",
        400,
        "bad_encoding",
        gzip.compress(_json(GENERIC_ALERT))[:-12],
        {**JSON, "Content-Encoding": "gzip"},
    ),
    Bad(
        "corrupt deflate body",
        "POST",
        "/webhooks/generic",
        400,
        "bad_encoding",
        b"not deflate at all",
        {**JSON, "Content-Encoding": "deflate"},
    ),
    Bad(
        "brotli body",
        "POST",
        "/webhooks/generic",
        415,
        "unsupported_encoding",
        b"\x0b\x02\x80{}\x03",
        {**JSON, "Content-Encoding": "br"},
    ),
    Bad(
        "zstd body",
        "POST",
        "/webhooks/generic",
        415,
        "unsupported_encoding",
        b"\x28\xb5\x2f\xfd\x20\x02\x11\x00\x00{}",
        {**JSON, "Content-Encoding": "zstd"},
    ),
    Bad(
        "unknown content encoding",
        "POST",
        "/webhooks/generic",
        415,
        "unsupported_encoding",
        _json(GENERIC_ALERT),
        {**JSON, "Content-Encoding": "x-snappy"},
    ),
    Bad(
        "two encodings, one unknown",
        "POST",
        "/webhooks/generic",
        415,
        "unsupported_encoding",
        _json(GENERIC_ALERT),
        {**JSON, "Content-Encoding": "gzip, x-snappy"},
    ),
    Bad(
        "oversized header",
        "POST",
        "/webhooks/generic",
        400,
        "bad_request",
        _json(GENERIC_ALERT),
        {**JSON, "X-Padding": "p" * 20_000},
    ),
]

API_REFUSALS = [
    Bad(
        "before beyond int64", "GET", f"/api/v1/incidents?before={INT64_PLUS}", 400, "bad_parameter"
    ),
    Bad(
        "events before beyond int64",
        "GET",
        f"/api/v1/events?before={INT64_PLUS}",
        400,
        "bad_parameter",
    ),
    Bad(
        "incident_id beyond int64",
        "GET",
        f"/api/v1/events?incident_id={INT64_PLUS}",
        400,
        "bad_parameter",
    ),
    Bad(
        "limit in superscript digits", "GET", "/api/v1/incidents?limit=%C2%B2", 400, "bad_parameter"
    ),
    Bad("limit negative", "GET", "/api/v1/events?limit=-1", 400, "bad_parameter"),
    Bad("major not a boolean", "GET", "/api/v1/incidents?major=perhaps", 400, "bad_parameter"),
    Bad("incident id in superscript digits", "GET", "/api/v1/incidents/%C2%B9", 404, "not_found"),
    Bad("incident id beyond int64", "GET", f"/api/v1/incidents/{INT64_PLUS}", 400, "bad_parameter"),
    Bad(
        "acknowledge an id beyond int64",
        "POST",
        f"/api/v1/incidents/{INT64_PLUS}/acknowledge",
        400,
        "bad_parameter",
    ),
    Bad(
        "resolve an id in superscript digits",
        "POST",
        "/api/v1/incidents/%C2%B9/resolve",
        404,
        "not_found",
    ),
    Bad(
        "silence id in superscript digits",
        "DELETE",
        "/api/v1/silences/%C2%B9",
        400,
        "bad_parameter",
    ),
    Bad(
        "silence id beyond int64", "DELETE", f"/api/v1/silences/{INT64_PLUS}", 400, "bad_parameter"
    ),
    Bad(
        "dead letters before beyond int64",
        "GET",
        f"/api/v1/deadletters?before={INT64_PLUS}",
        400,
        "bad_parameter",
    ),
    Bad(
        "dead letter id in superscript digits",
        "POST",
        "/api/v1/deadletters/%C2%B9/retry",
        400,
        "bad_parameter",
    ),
    Bad("NUL in a text filter", "GET", "/api/v1/incidents?service=a%00b", 400, "bad_parameter"),
    Bad("NUL in an incident key", "GET", "/api/v1/incidents/INC-%00", 400, "bad_parameter"),
    Bad("unknown route", "GET", "/api/v1/nothing-here", 404, "not_found"),
    Bad("method not allowed", "PUT", "/api/v1/incidents", 405, "method_not_allowed"),
    Bad(
        "body beyond the server's limit",
        "POST",
        "/api/v1/silences",
        413,
        "too_large",
        b"{" + b" " * 3_000_000 + b"}",
        JSON,
    ),
    Bad(
        "incident key longer than any key",
        "POST",
        "/api/v1/incidents/INC-" + "1" * 40 + "/resolve",
        400,
        "bad_parameter",
    ),
    Bad(
        "NUL in a silence matcher",
        "POST",
        "/api/v1/silences",
        400,
        "invalid_body",
        b'{"matchers": [{"name": "a\\u0000", "value": "x"}], "ends_at": "2099-01-01T00:00:00Z",'
        b' "author": "a", "comment": "c"}',
        JSON,
    ),
    Bad(
        "a number as a time",
        "POST",
        "/api/v1/silences",
        400,
        "invalid_body",
        b'{"matchers": [{"name": "a", "value": "x"}], "ends_at": 4102444800,'
        b' "author": "a", "comment": "c"}',
        JSON,
    ),
    Bad(
        "silence body nested 300 deep",
        "POST",
        "/api/v1/silences",
        400,
        "invalid_body",
        b'{"matchers": ' + b"[" * 300 + b"]" * 300 + b"}",
        JSON,
    ),
]


def _mismatch(case: Bad, answer: Answer) -> str | None:
    try:
        document = answer.json()
    except orjson.JSONDecodeError:
        document = None
    if (
        answer.status == case.status
        and answer.content_type.startswith("application/json")
        and isinstance(document, dict)
        and document.get("error") == case.reason
        and isinstance(document.get("message"), str)
        and document["message"]
    ):
        return None
    return f"{case.what}: {answer.status} {answer.content_type!r} {answer.body[:200]!r}"


async def assert_refused(daemon: RunningDaemon, cases: list[Bad]) -> None:
    """Every case answered as it says; all mismatches are listed at once."""
    found = []
    for case in cases:
        answer = await exchange(
            daemon, case.method, case.path, body=case.body, headers=case.headers
        )
        problem = _mismatch(case, answer)
        if problem is not None:
            found.append(problem)
    assert found == [], "\n".join(found)


def _config(write_config: ConfigWriter, database_url: str) -> Any:
    return write_config(
        database_url,
        integrations=[
            {"name": "generic", "kind": "generic"},
            {"name": "alertmanager", "kind": "alertmanager"},
        ],
        http={"listen": "127.0.0.1:0", "max_body_bytes": 1_048_576},
    )


async def test_bad_webhook_requests_get_a_json_reason_and_nothing_is_stored(
    write_config: ConfigWriter, database_url: str
) -> None:
    async with running_daemon(_config(write_config, database_url)) as daemon:
        await assert_refused(daemon, WEBHOOK_REFUSALS)
        assert await models.IntakeRecordRow.all().count() == 0
        # the listener still takes good intake, plain and compressed
        for encoding, body in (
            ("identity", _json(GENERIC_ALERT)),
            ("gzip", gzip.compress(_json(GENERIC_ALERT))),
            ("deflate", zlib.compress(_json({**GENERIC_ALERT, "resource": "db2"}))),
        ):
            answer = await exchange(
                daemon,
                "POST",
                "/webhooks/generic",
                body=body,
                headers={**JSON, "Content-Encoding": encoding},
            )
            assert answer.status == 202, (encoding, answer)


async def test_bad_api_requests_get_a_json_reason(
    write_config: ConfigWriter, database_url: str
) -> None:
    async with running_daemon(_config(write_config, database_url)) as daemon:
        await assert_refused(daemon, API_REFUSALS)
        # the largest id there can be is a fine id that is not there
        answer = await exchange(daemon, "GET", "/api/v1/incidents/9223372036854775807")
        assert answer.status == 404 and answer.json()["error"] == "not_found"
        answer = await exchange(daemon, "GET", "/api/v1/incidents?before=9223372036854775807")
        assert answer.status == 200 and answer.json()["items"] == []


@pytest.mark.parametrize("path", ["/nothing", "/healthz/x", "/webhooks"])
async def test_unknown_paths_outside_the_api_are_json_too(
    write_config: ConfigWriter, path: str
) -> None:
    async with running_daemon(write_config()) as daemon:
        answer = await exchange(daemon, "GET", path)
        assert answer.status == 404 and answer.content_type.startswith("application/json")
        assert answer.json()["error"] == "not_found"
