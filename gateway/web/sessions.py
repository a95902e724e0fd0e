"""Signed session cookies and the CSRF tokens derived from them.

A cookie holds the user, a random nonce, when the session began, when it was
last used and a short digest of the user's password hash (changing a password
ends that user's sessions), signed with HMAC-SHA256. Nothing is kept in the
daemon, so replicas sharing ``session_secret`` share sessions. A session
ends after ``idle`` without a request or ``max_age`` after login, whichever
comes first; a request renews the last-used time at most once a minute.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta

_RENEW_AFTER = 60.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def password_stamp(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    nonce: str
    issued: float
    seen: float
    stamp: str


class SessionCodec:
    def __init__(self, secret: bytes, idle: timedelta, max_age: timedelta) -> None:
        self._secret = secret
        self._idle = idle.total_seconds()
        self._max_age = max_age.total_seconds()

    def _sign(self, purpose: str, text: str) -> str:
        mac = hmac.new(self._secret, f"{purpose}:{text}".encode(), hashlib.sha256)
        return _b64(mac.digest())

    def begin(self, user: str, stamp: str, now: float) -> Session:
        return Session(user, secrets.token_urlsafe(16), now, now, stamp)

    def encode(self, session: Session) -> str:
        body = _b64(
            json.dumps(
                [session.user, session.nonce, session.issued, session.seen, session.stamp],
                separators=(",", ":"),
            ).encode()
        )
        return f"{body}.{self._sign('session', body)}"

    def decode(self, value: str | None, now: float) -> Session | None:
        """The session a cookie holds, or None if forged, malformed or stale."""
        if not value or len(value) > 1024 or "." not in value:
            return None
        body, _, signature = value.rpartition(".")
        if not hmac.compare_digest(signature.encode(), self._sign("session", body).encode()):
            return None
        try:
            user, nonce, issued, seen, stamp = json.loads(_unb64(body))
            session = Session(str(user), str(nonce), float(issued), float(seen), str(stamp))
        except (ValueError, TypeError):
            return None
        if now - session.seen > self._idle or now - session.issued > self._max_age:
            return None
        return session

    def renewed(self, session: Session, now: float) -> Session | None:
        """The session with a fresh last-used time when due, else None."""
        return replace(session, seen=now) if now - session.seen >= _RENEW_AFTER else None

    def csrf(self, session: Session) -> str:
        return self._sign("csrf", session.nonce)

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(
            (given or "").encode(), self.csrf(session).encode()
        )

    def login_token(self, nonce: str) -> str:
        """The login form's token, bound to the pre-login cookie's nonce."""
        return self._sign("login", nonce)

    def login_token_ok(self, nonce: str | None, given: str | None) -> bool:
        if not nonce or not given:
            return False
        return hmac.compare_digest(given.encode(), self.login_token(nonce).encode())
