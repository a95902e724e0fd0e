"""Webhook authentication: bearer, basic, HMAC-SHA256 with timestamp. Constant-time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import SecretStr

from gateway.config.model import AuthConfig
from storage import SignatureClaim


@dataclass(frozen=True, slots=True)
class AuthFailure:
    reason: str  # metric label and JSON "error"
    message: str


def _equal(given: str, expected: SecretStr) -> bool:
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


def _given(headers: Mapping[str, str], config: AuthConfig) -> str:
    """The hex digest a request's signature header carries, without its prefix."""
    signature = headers.get(config.signature_header, "")
    return signature.strip().removeprefix("sha256=").removeprefix("v1=").lower()


class Authenticator:
    """Checks one request against one integration's auth settings."""

    def __init__(self, config: AuthConfig, secrets: Mapping[str, SecretStr | None]) -> None:
        self._config = config
        self._token = secrets.get("token")
        self._password = secrets.get("password")
        self._secret = secrets.get("secret")

    def check(self, headers: Mapping[str, str], body: bytes, now: float) -> AuthFailure | None:
        kind = self._config.type
        if kind == "none":
            return None
        if kind == "bearer":
            return self._bearer(headers)
        if kind == "basic":
            return self._basic(headers)
        return self._hmac(headers, body, now)

    def replay_claim(self, integration: str, headers: Mapping[str, str]) -> SignatureClaim | None:
        """What a request that passed :meth:`check` leaves in the replay ledger: its
        signature, until it is out of the window; None for kinds that sign nothing."""
        if self._config.type != "hmac":
            return None
        stamp = headers.get(self._config.timestamp_header, "")
        digest = hashlib.sha256(f"{stamp}.{_given(headers, self._config)}".encode()).hexdigest()
        # check() refused every time further than the window from now: this is a date
        expires = float(stamp) + self._config.replay_window_seconds
        return SignatureClaim(integration, digest, datetime.fromtimestamp(expires, UTC))

    def needs_body(self) -> bool:
        return self._config.type == "hmac"

    def _bearer(self, headers: Mapping[str, str]) -> AuthFailure | None:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return AuthFailure("missing_credentials", "send 'Authorization: Bearer <token>'")
        assert self._token is not None
        if not _equal(token.strip(), self._token):
            return AuthFailure("bad_credentials", "the bearer token is not valid")
        return None

    def _basic(self, headers: Mapping[str, str]) -> AuthFailure | None:
        scheme, _, encoded = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return AuthFailure("missing_credentials", "send HTTP basic credentials")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return AuthFailure("bad_credentials", "basic credentials are not valid base64")
        assert self._password is not None and self._config.username is not None
        user_ok = hmac.compare_digest(user.encode(), self._config.username.encode())
        password_ok = _equal(password, self._password)
        if not (user_ok and password_ok):
            return AuthFailure("bad_credentials", "user name or password is wrong")
        return None

    def _hmac(self, headers: Mapping[str, str], body: bytes, now: float) -> AuthFailure | None:
        signature = headers.get(self._config.signature_header, "")
        stamp = headers.get(self._config.timestamp_header, "")
        if not signature or not stamp:
            return AuthFailure(
                "missing_signature",
                f"send {self._config.signature_header} and {self._config.timestamp_header}",
            )
        try:
            signed_at = float(stamp)
        except ValueError:
            signed_at = math.nan
        if not math.isfinite(signed_at):  # NaN is never older than the window
            return AuthFailure("bad_signature", "the timestamp is not a Unix time")
        if abs(now - signed_at) > self._config.replay_window_seconds:
            return AuthFailure(
                "stale_signature",
                f"the signature is older than {self._config.replay_window_seconds}s "
                "(or the sender's clock is off)",
            )
        assert self._secret is not None
        expected = hmac.new(
            self._secret.get_secret_value().encode(), stamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        given = _given(headers, self._config)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return AuthFailure("bad_signature", "the HMAC-SHA256 signature does not match")
        return None
