"""The SMTP listener: aiosmtpd's protocol on the daemon's own event loop.

aiosmtpd's threaded ``Controller`` would run a second loop in a thread; the
daemon instead creates the server with ``loop.create_server`` and a factory
of ``aiosmtpd.smtp.SMTP`` sessions, so commits, metrics and shutdown share
one loop. Around the protocol this module adds what a listener facing an MX
or relay needs: client networks (554 at connect), a connection limit (421),
STARTTLS and AUTH only over TLS, and a graceful stop (in-flight messages are
stored and answered, idle sessions get 421).

End of data is strict in aiosmtpd >= 1.4.5: only CRLF.CRLF ends DATA, so
bare-LF sequences (SMTP smuggling) stay inside the one message.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AnyStr, cast

import structlog
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from pydantic import SecretStr

from gateway.config.mail import SmtpConfig, SmtpTlsConfig
from gateway.config.model import Secrets
from gateway.intake.smtp_handler import MailHandler
from gateway.intake.smtp_paths import session_address
from gateway.metrics import Metrics

log = structlog.get_logger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

GREETING_IDENT = "ESMTP intake-gateway"
NETWORK_REFUSED = "554 5.7.1 Your address may not send mail here"
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections, try again later"
SHUTTING_DOWN = "421 4.3.2 Service shutting down, try again later"
# Guessing passwords is slow: a session gets this many AUTH attempts.
_AUTH_ATTEMPTS = 3
_UNLIMITED = 2**31


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Everything the listener needs, resolved from config once at startup."""

    host: str
    port: int
    hostname: str
    max_message_bytes: int
    max_connections: int
    timeout_seconds: float
    max_line_bytes: int
    networks: tuple[Network, ...]
    tls: SmtpTlsConfig | None = None
    auth_required: bool = False
    users: Mapping[str, SecretStr] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: SmtpConfig, secrets: Secrets) -> SmtpSettings:
        users: dict[str, SecretStr] = {}
        for user in config.auth.users if config.auth else ():
            secret = secrets.get(f"smtp.auth.{user.username}")
            if secret is not None:
                users[user.username] = secret
        return cls(
            host=config.listen.host,
            port=config.listen.port,
            # never let aiosmtpd fall back to socket.getfqdn(): a DNS lookup per connection
            hostname=config.hostname or socket.gethostname(),
            max_message_bytes=config.max_message_bytes,
            max_connections=config.max_connections,
            timeout_seconds=config.timeout_seconds,
            max_line_bytes=config.max_line_bytes,
            networks=tuple(ipaddress.ip_network(item) for item in config.allowed_networks),
            tls=config.tls,
            auth_required=config.auth is not None and config.auth.required,
            users=users,
        )


def network_allows(networks: tuple[Network, ...], peer_host: str) -> bool:
    """Whether a client address is inside one of the networks (IPv4-mapped IPv6 counts as v4)."""
    try:
        address = ipaddress.ip_address(peer_host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


class Logins:
    """aiosmtpd authenticator over the configured users (PLAIN and LOGIN)."""

    def __init__(self, users: Mapping[str, SecretStr]) -> None:
        self._users = {name: secret.get_secret_value().encode() for name, secret in users.items()}

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        expected = self._users.get(auth_data.login.decode("utf-8", "replace"))
        # compare even for unknown users, so timing does not tell which names exist
        matches = hmac.compare_digest(expected or b"\0", auth_data.password)
        if expected is None or not matches:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=auth_data)


class _Gate:
    """Admission at connect (client network, connection limit) and the open sessions."""

    def __init__(self, settings: SmtpSettings, metrics: Metrics) -> None:
        self._networks = settings.networks
        self._limit = settings.max_connections
        self._metrics = metrics
        self.open: set[_Session] = set()

    def admit(self, session: _Session, peer: Any) -> str | None:
        """None to serve the session, else the reply that refuses it."""
        host = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not network_allows(self._networks, host):
            self._metrics.smtp_connections.labels("refused_network").inc()
            log.info("smtp_refused_network", peer=host)
            return NETWORK_REFUSED
        if len(self.open) >= self._limit:
            self._metrics.smtp_connections.labels("refused_busy").inc()
            log.warning("smtp_refused_busy", open=len(self.open))
            return TOO_MANY_CONNECTIONS
        self._metrics.smtp_connections.labels("accepted").inc()
        self.open.add(session)
        self._metrics.smtp_sessions.set(len(self.open))
        return None

    def release(self, session: _Session) -> None:
        self.open.discard(session)
        self._metrics.smtp_sessions.set(len(self.open))

    def close_all(self, reply: str) -> None:
        for session in list(self.open):
            session.close_with(reply)


class _Session(SMTP):
    """One SMTP connection: aiosmtpd's protocol plus admission and size accounting."""

    def __init__(
        self, handler: MailHandler, *, gate: _Gate, metrics: Metrics, line_limit: int, **kwargs: Any
    ) -> None:
        # SMTP.__init__ sizes its stream reader from this attribute
        self.line_length_limit = line_limit
        super().__init__(handler, **kwargs)
        self._gate = gate
        self._metrics = metrics
        self._refusal: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # called again with the TLS transport after STARTTLS: admit only once
        first = self._original_transport is None
        super().connection_made(transport)
        if first:
            self._refusal = self._gate.admit(self, transport.get_extra_info("peername"))

    def connection_lost(self, error: Exception | None) -> None:
        self._gate.release(self)
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        # aiosmtpd has no connect hook; the refusal replaces the 220 greeting
        if self._refusal is not None:
            await self.push(self._refusal)
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()

    async def push(self, status: AnyStr) -> None:
        # aiosmtpd answers 552 itself, for SIZE at MAIL FROM and for DATA past the limit
        text = status if isinstance(status, str) else status.decode("ascii", "replace")
        if text.startswith("552"):
            self._metrics.mail_messages.labels("smtp", "too_large").inc()
        await super().push(status)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        return session_address(arg, self.local_part_limit)

    def close_with(self, reply: str) -> None:
        transport = cast(asyncio.Transport | None, self.transport)
        if transport is not None and not transport.is_closing():
            transport.write(f"{reply}\r\n".encode("ascii"))
            transport.close()


class SmtpListener:
    """Binds the SMTP port while entered; on exit stores what is in flight, then closes."""

    def __init__(
        self, settings: SmtpSettings, handler: MailHandler, metrics: Metrics, drain_seconds: float
    ) -> None:
        self._settings = settings
        self._handler = handler
        self._metrics = metrics
        self._drain_seconds = drain_seconds
        self._gate = _Gate(settings, metrics)
        self._logins = Logins(settings.users)
        self._tls_context: ssl.SSLContext | None = None
        self.bound: list[str] = []

    @property
    def open_sessions(self) -> int:
        return len(self._gate.open)

    def _new_session(self) -> _Session:
        settings = self._settings
        return _Session(
            self._handler,
            gate=self._gate,
            metrics=self._metrics,
            line_limit=settings.max_line_bytes,
            data_size_limit=settings.max_message_bytes,
            enable_SMTPUTF8=True,
            hostname=settings.hostname,
            ident=GREETING_IDENT,
            tls_context=self._tls_context,
            require_starttls=settings.tls is not None and settings.tls.require_tls,
            timeout=settings.timeout_seconds,
            auth_required=settings.auth_required,
            auth_require_tls=True,
            authenticator=self._logins,
            command_call_limit={"AUTH": _AUTH_ATTEMPTS, "*": _UNLIMITED},
            loop=asyncio.get_running_loop(),
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SmtpListener]:
        # aiosmtpd logs every command line (addresses included) at INFO
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self._tls_context = _server_tls_context(self._settings.tls)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            self._new_session, self._settings.host, self._settings.port, reuse_address=True
        )
        self.bound = [_address(sock.getsockname()) for sock in server.sockets]
        log.info("smtp_listening", addresses=self.bound)
        try:
            yield self
        finally:
            server.close()
            self.bound = []
            try:
                async with asyncio.timeout(self._drain_seconds):
                    await self._handler.wait_idle()
            except TimeoutError:
                log.warning("smtp_drain_timeout")
            self._gate.close_all(SHUTTING_DOWN)
            await server.wait_closed()
            log.info("smtp_stopped")


def _server_tls_context(tls: SmtpTlsConfig | None) -> ssl.SSLContext | None:
    if tls is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


def _address(sockname: Any) -> str:
    host, port = sockname[0], sockname[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
