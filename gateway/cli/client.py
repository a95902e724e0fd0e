"""The operator commands' side of the JSON API: where the daemon is, the token, and
what its answers mean as exit codes.

Plain ``urllib``: one request at a time, no event loop to start for a command
that makes one or two calls.
"""

from __future__ import annotations

import argparse
import getpass
import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

URL_ENV = "INTAKE_GATEWAY_URL"
TOKEN_ENV = "INTAKE_GATEWAY_TOKEN"
FALLBACK_URL = "http://127.0.0.1:8080"

# Exit codes of the commands that talk to the daemon (docs/cli.md lists them).
EXIT_OK = 0
EXIT_REFUSED = 1  # the daemon answered with an error: not found, conflict, invalid body, 5xx
EXIT_USAGE = 2  # bad options, a file that cannot be read
EXIT_UNREACHABLE = 3  # no answer: connection refused, timeout, not HTTP
EXIT_UNAUTHORIZED = 4  # 401: no token, or the wrong one; 403: the read token asked to write

_WILDCARD_HOSTS = {"0.0.0.0", "::", "[::]", ""}


class CommandError(Exception):
    """Ends a command with a message on stderr and an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        help=f"the daemon's HTTP address (default: ${URL_ENV}, else http.listen of --config)",
    )
    parser.add_argument(
        "--token-file",
        help=f"file holding the API token (default: ${TOKEN_ENV}; none: no Authorization)",
    )
    parser.add_argument(
        "--config",
        help="config file whose http.listen gives the default URL "
        "(default: $INTAKE_GATEWAY_CONFIG or config/gateway.yaml)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for an answer (default: 30)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def listen_url(config: str | None) -> str:
    """``http://host:port`` from http.listen of the config file, read without validating
    the rest (the operator's shell may lack the daemon's secrets); a wildcard address is
    reached on the loopback. The fallback when the file or the option is missing."""
    from core.errors import ConfigError
    from gateway.config.model import config_path
    from gateway.config.yamlfile import load_yaml

    try:
        document = load_yaml(config_path(config))
    except ConfigError:
        return FALLBACK_URL
    http = document.get("http") if isinstance(document, Mapping) else None
    listen = http.get("listen") if isinstance(http, Mapping) else None
    if not isinstance(listen, str) or ":" not in listen:
        return FALLBACK_URL
    host, _, port = listen.rpartition(":")
    if host in _WILDCARD_HOSTS:
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def default_author() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        return "cli"


def read_token(token_file: str | None) -> str | None:
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(
                f"--token-file: cannot read {token_file}: {exc}", EXIT_USAGE
            ) from exc
        if not token:
            raise CommandError(f"--token-file: {token_file} is empty", EXIT_USAGE)
        return token
    return os.environ.get(TOKEN_ENV) or None


@dataclass(frozen=True, slots=True)
class Client:
    url: str
    token: str | None
    timeout: float = 30.0

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Client:
        url = args.url or os.environ.get(URL_ENV) or listen_url(args.config)
        return cls(url.rstrip("/"), read_token(args.token_file), args.timeout)

    def get(self, path: str, query: Mapping[str, str | None] | None = None) -> Any:
        return self.call("GET", path, query=query)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, None if body is None else orjson.dumps(body))

    def call(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        *,
        query: Mapping[str, str | None] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """The JSON answer of a 2xx; CommandError for anything else."""
        target = self.url + path
        chosen = {name: value for name, value in (query or {}).items() if value is not None}
        if chosen:
            target += "?" + urllib.parse.urlencode(chosen)
        request = urllib.request.Request(target, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return _json(response.read(), target)
        except urllib.error.HTTPError as exc:
            raise _refusal(exc, method, path) from None
        # URLError, refused connections and timeouts are OSErrors; HTTPException: not HTTP
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise CommandError(
                f"cannot reach the daemon at {self.url}: {reason} (set --url or ${URL_ENV})",
                EXIT_UNREACHABLE,
            ) from None


def _json(raw: bytes, target: str) -> Any:
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        raise CommandError(
            f"{target} did not answer JSON: is this the gateway's HTTP address?", EXIT_UNREACHABLE
        ) from None


def _refusal(error: urllib.error.HTTPError, method: str, path: str) -> CommandError:
    raw = error.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and "message" in body:
        detail = f"{body.get('error', 'error')}: {body['message']}"
        problems = body.get("problems")
        if isinstance(problems, list):
            detail += "".join(f"\n  {problem}" for problem in problems)
    else:
        detail = raw.decode("utf-8", "replace").strip()[:2000] or str(error.reason)
    if error.code == 403:
        return CommandError(
            f"{method} {path}: 403 {detail} (this needs the API token, not the read token)",
            EXIT_UNAUTHORIZED,
        )
    if error.code == 401:
        return CommandError(
            f"{method} {path}: 401 {detail} (give the API token with --token-file or ${TOKEN_ENV})",
            EXIT_UNAUTHORIZED,
        )
    return CommandError(f"{method} {path}: {error.code} {detail}", EXIT_REFUSED)


def fail(error: CommandError) -> int:
    print(f"intake-gateway: {error}", file=sys.stderr)
    return error.code
