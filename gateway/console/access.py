"""Who may use the console: login, sessions, CSRF tokens and roles.

Every /ui/ request except the login page and static files needs a live
session of a person still in ``console.people`` with the same password;
otherwise a page asks to log in again (htmx requests get ``HX-Redirect``).
Every POST needs the session's CSRF token (form field ``csrf`` or header
``X-CSRF-Token``): without it the answer is 403 and nothing changes.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import quote

import structlog
from aiohttp import web
from pydantic import SecretStr

from gateway.console.config import ROLES, ConsoleConfig, PersonConfig, Role
from gateway.web.clientaddr import ClientAddresses
from gateway.web.loginlimit import LoginLimiter
from gateway.web.passwords import verify_password
from gateway.web.sessions import Session, SessionCodec, password_stamp

log = structlog.get_logger("gateway.console")

SESSION_COOKIE = "ig_session"
LOGIN_COOKIE = "ig_login"
PREFIX = "/ui"
_OPEN_PATHS = (f"{PREFIX}/login", f"{PREFIX}/static/", f"{PREFIX}/lang")

PERSON = web.RequestKey("person", PersonConfig)
CSRF = web.RequestKey("csrf", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refused(web.HTTPForbidden):
    """A CSRF token missing or wrong, or a role that may not do this."""


class Access:
    def __init__(
        self,
        config: Callable[[], ConsoleConfig],
        secret: Callable[[], SecretStr | None],
        clients: ClientAddresses,
    ) -> None:
        self._config = config
        self._secret = secret
        self._clients = clients
        self._random_secret = secrets.token_bytes(32)  # when none is configured
        current = config()
        self._limiter = LoginLimiter(current.login_attempts, current.login_window_seconds)

    def codec(self) -> SessionCodec:
        config = self._config()
        configured = self._secret()
        key = configured.get_secret_value().encode() if configured else self._random_secret
        return SessionCodec(
            key,
            timedelta(minutes=config.session_idle_minutes),
            timedelta(hours=config.session_max_hours),
        )

    def client(self, request: web.Request) -> str:
        return self._clients.describe(request)

    def person(self, name: str) -> PersonConfig | None:
        for person in self._config().people:
            if person.name.lower() == name.lower():
                return person
        return None

    def session(self, request: web.Request) -> tuple[Session, PersonConfig] | None:
        found = self.codec().decode(request.cookies.get(SESSION_COOKIE), time.time())
        if found is None:
            return None
        person = self.person(found.user)
        if person is None or password_stamp(person.password_hash) != found.stamp:
            return None  # removed, or the password changed: that session is over
        return found, person

    def set_cookie(
        self, request: web.Request, response: web.StreamResponse, name: str, value: str
    ) -> None:
        secure = self._config().secure_cookies == "always" or self._clients.https(request)
        response.set_cookie(
            name, value, path=f"{PREFIX}/", httponly=True, secure=secure, samesite="Lax"
        )

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if not (path == PREFIX or path.startswith(f"{PREFIX}/")):
            return await handler(request)
        if not self._config().enabled:
            raise web.HTTPNotFound()
        if path.startswith(_OPEN_PATHS):
            return await handler(request)
        found = self.session(request)
        if found is None:
            return _to_login(request)
        session, person = found
        codec = self.codec()
        if request.method not in ("GET", "HEAD") and not await self._csrf_ok(
            request, codec, session
        ):
            log.warning("console_csrf_refused", user=person.name, path=path)
            raise Refused(text="CSRF token missing or wrong: reload the page and try again")
        request[PERSON] = person
        request[CSRF] = codec.csrf(session)
        response = await handler(request)
        renewed = codec.renewed(session, time.time())
        if renewed is not None and not response.prepared:  # a stream has sent its headers
            self.set_cookie(request, response, SESSION_COOKIE, codec.encode(renewed))
        return response

    @staticmethod
    async def _csrf_ok(request: web.Request, codec: SessionCodec, session: Session) -> bool:
        given = request.headers.get("X-CSRF-Token")
        if given is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            field = (await request.post()).get("csrf")
            given = field if isinstance(field, str) else None
        return codec.csrf_ok(session, given)

    def login_nonce(self, request: web.Request) -> str | None:
        return request.cookies.get(LOGIN_COOKIE)

    async def log_in(
        self, request: web.Request, name: str, password: str, token: str | None
    ) -> tuple[str, float]:
        """'ok' (cookie set by the caller), 'csrf', 'limited' (with seconds) or 'wrong'."""
        codec = self.codec()
        if not codec.login_token_ok(self.login_nonce(request), token):
            return "csrf", 0.0
        now = time.monotonic()
        keys = (f"addr:{self._clients.describe(request)}", f"user:{name.lower()}")
        wait = self._limiter.retry_after(keys, now)
        if wait > 0:
            log.warning("console_login_limited", user=name[:64], address=keys[0][5:])
            return "limited", wait
        person = self.person(name)
        # argon2 takes tens of milliseconds of CPU: not on the event loop
        ok = await asyncio.to_thread(
            verify_password, person.password_hash if person else None, password
        )
        if not ok or person is None:
            self._limiter.failed(keys, now)
            log.warning("console_login_failed", user=name[:64], address=keys[0][5:])
            return "wrong", 0.0
        self._limiter.succeeded(keys)
        log.info("console_login", user=person.name, address=keys[0][5:])
        return "ok", 0.0

    def new_session_cookie(self, person: PersonConfig) -> str:
        codec = self.codec()
        return codec.encode(
            codec.begin(person.name, password_stamp(person.password_hash), time.time())
        )


def may(person: PersonConfig, role: Role) -> bool:
    return ROLES.index(person.role) >= ROLES.index(role)


def require(request: web.Request, role: Role) -> PersonConfig:
    person = request[PERSON]
    if not may(person, role):
        raise Refused(text=f"this needs the {role} role; {person.name} is {person.role}")
    return person


def _to_login(request: web.Request) -> web.StreamResponse:
    target = f"{PREFIX}/login?next={quote(request.path_qs, safe='')}"
    if request.headers.get("HX-Request"):
        response = web.Response(status=401, text="session ended")
        response.headers["HX-Redirect"] = target
        return response
    if request.method in ("GET", "HEAD"):
        raise web.HTTPSeeOther(target)
    raise web.HTTPUnauthorized(text="session ended: log in again")


def safe_next(value: str | None) -> str:
    """Only a path of the console itself (no open redirect to another site)."""
    if (
        value
        and value.startswith(f"{PREFIX}/")
        and not value.startswith("//")
        and "\\" not in value
    ):
        return value
    return f"{PREFIX}/incidents"
