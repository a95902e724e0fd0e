"""The mail sections of ``config/gateway.yaml``: mailboxes, the SMTP listener, IMAP
accounts (checks across sections are in ``gateway.config.model``)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from core.configbase import NAME_PATTERN, Listen, ListenAddress, parse_listen
from core.secretref import SecretRef
from core.secretref import inline_secret as _secret
from core.validation import Strict

IncidentType = Literal["incident", "service_request", "complaint", "change_request"]


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR network (e.g. 10.0.0.0/8): {exc}") from None
    return value


def _refuse_repeats(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} '{name}' is listed twice")
        seen.add(name)


def _readable_file(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"{path} does not exist or is not a file")
    return path


class MailAnswerConfig(Strict):
    """Answering the sender of a mail that opens an incident (with its key and status)."""

    sink: str = Field(
        description="the email sink (in sinks:) that sends the answer, from its from_address"
    )
    max_per_sender: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="answers to one sender address within window_seconds at most (loop "
        "protection; automatic mail and the gateway's own mail are never answered)",
    )
    window_seconds: int = Field(
        default=3600, ge=60, le=7 * 86400, description="the window of max_per_sender"
    )


RequesterChange = Literal["acknowledged", "resolved", "reopened", "closed", "priority_raised"]
_CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class QuietHours(Strict):
    """Hours when no notification goes out; they go when the quiet hours end."""

    start: str = Field(pattern=_CLOCK, description="HH:MM, local time of timezone")
    end: str = Field(pattern=_CLOCK, description="HH:MM; before start: the next day")
    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Asia/Shanghai")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class RequesterNotifyConfig(Strict):
    """Mail to the requester when their incident changes, and the satisfaction survey
    when it is resolved. Never to automated senders (monitoring mail, no-reply and
    mailer-daemon addresses, the sink's own address)."""

    sink: str = Field(description="the email sink (in sinks:) that sends these mails")
    changes: tuple[RequesterChange, ...] = Field(
        default=("acknowledged", "resolved", "reopened"),
        description="status changes the requester is told of",
    )
    survey: bool = Field(
        default=True,
        description="on resolution, a survey mail with one-click 1-5 ratings (needs the portal)",
    )
    quiet_hours: QuietHours | None = Field(
        default=None, description="hours without notifications; none: any time"
    )
    max_per_sender: int = Field(
        default=20, ge=1, le=1000, description="mails to one requester within window_seconds"
    )
    window_seconds: int = Field(
        default=3600, ge=60, le=7 * 86400, description="the window of max_per_sender"
    )


class MailboxConfig(Strict):
    """An address the gateway takes mail for (by SMTP, or by IMAP from an account)."""

    name: str = Field(
        pattern=NAME_PATTERN,
        description="the source name of its intake records and events; rules match on it",
    )
    address: str = Field(
        pattern=r"^[^@\s<>]+@[^@\s<>]+$",
        description="the recipient address accepted at RCPT TO (compared case-insensitively)",
    )
    service: str = Field(default="", description="default service of incidents from this mailbox")
    type: IncidentType = Field(
        default="incident", description="default incident type of mail to this mailbox"
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="options of the email parser for this mailbox"
    )
    acknowledge: MailAnswerConfig | None = Field(
        default=None,
        description="answer the sender of a mail that opens an incident (the incident key, "
        "title, status and priority, threaded under their mail); none: no answer",
    )
    notify: RequesterNotifyConfig | None = Field(
        default=None,
        description="tell the requester of status changes and ask for a rating on "
        "resolution; none: no such mail",
    )


class SmtpTlsConfig(Strict):
    """STARTTLS for the SMTP listener."""

    cert_file: Path = Field(description="PEM certificate (chain) offered after STARTTLS")
    key_file: Path = Field(description="PEM private key of cert_file")
    require_tls: bool = Field(
        default=False,
        description="answer 530 to MAIL until the client has run STARTTLS",
    )

    _files = field_validator("cert_file", "key_file")(_readable_file)

    @model_validator(mode="after")
    def _loads(self) -> SmtpTlsConfig:
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"cannot load cert_file/key_file: {exc}") from None
        return self


class SmtpUserConfig(Strict):
    """One login accepted by SMTP AUTH."""

    username: str = Field(min_length=1, max_length=255, description="AUTH user name")
    password: SecretRef = Field(description="AUTH password: {env: NAME} or {file: /path}")

    _password = field_validator("password", mode="before")(_secret)


class SmtpAuthConfig(Strict):
    """SMTP AUTH (PLAIN, LOGIN); offered only after STARTTLS."""

    required: bool = Field(
        default=False, description="answer 530 to MAIL until the client has authenticated"
    )
    users: tuple[SmtpUserConfig, ...] = Field(min_length=1, description="accepted logins")

    @field_validator("users")
    @classmethod
    def _unique_users(cls, value: tuple[SmtpUserConfig, ...]) -> tuple[SmtpUserConfig, ...]:
        _refuse_repeats("user", [user.username for user in value])
        return value


class SmtpConfig(Strict):
    """The SMTP listener: an MX or a relay delivers to the mailboxes here."""

    enabled: bool = Field(default=False, description="run the SMTP listener")
    listen: Listen = Field(default=ListenAddress("127.0.0.1", 2525), description="host:port")
    hostname: str = Field(
        default="",
        max_length=255,
        description="name in the 220 greeting and the EHLO answer (default: this host's name)",
    )
    max_message_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1024,
        le=1024**3,
        description="advertised as SIZE; larger messages get 552 (at MAIL FROM when the "
        "client declares SIZE, else at the end of DATA, without buffering the excess)",
    )
    max_recipients: int = Field(
        default=50, ge=1, le=10_000, description="RCPT TO per message; more get 452"
    )
    max_connections: int = Field(
        default=100, ge=1, le=100_000, description="concurrent sessions; more get 421 at connect"
    )
    timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description="a session that sends no command for this long is closed "
        "(the whole DATA transfer must also fit in it)",
    )
    max_line_bytes: int = Field(
        default=8192,
        ge=1001,
        le=1024 * 1024,
        description="longest command or message line (RFC 5321 allows 1000); "
        "a longer message line gets 500",
    )
    allowed_networks: tuple[str, ...] = Field(
        default=("0.0.0.0/0", "::/0"),
        description="client networks (CIDR) that may connect; others get 554 at connect",
    )
    tls: SmtpTlsConfig | None = Field(default=None, description="STARTTLS; unset: no TLS")
    auth: SmtpAuthConfig | None = Field(default=None, description="SMTP AUTH; needs tls")

    _listen = field_validator("listen", mode="before")(parse_listen)

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_network(item) for item in value)

    @model_validator(mode="after")
    def _auth_needs_tls(self) -> SmtpConfig:
        if self.auth is not None and self.tls is None:
            raise ValueError("auth needs tls: passwords are only accepted after STARTTLS")
        return self


class ImapAccountConfig(Strict):
    """A mailbox on an IMAP server, polled (or watched with IDLE) for new mail."""

    name: str = Field(pattern=NAME_PATTERN, description="the account's name in logs and metrics")
    mailbox: str = Field(
        description="name of the entry in mailboxes: whose source name and parser options "
        "its messages get"
    )
    host: str = Field(min_length=1, description="IMAP server host name or address")
    port: int | None = Field(
        default=None, ge=1, le=65535, description="default: 993 for ssl, else 143"
    )
    security: Literal["ssl", "starttls", "none"] = Field(
        default="ssl",
        description="ssl: TLS from the start; starttls: upgrade on 143; "
        "none: plain text (loopback or test servers only)",
    )
    ca_file: Path | None = Field(
        default=None, description="verify the server against this CA bundle (default: system CAs)"
    )
    username: str = Field(min_length=1, description="login name")
    password: SecretRef = Field(description="login password: {env: NAME} or {file: /path}")
    folders: tuple[str, ...] = Field(
        default=("INBOX",), min_length=1, description="folders to take mail from"
    )
    after: Literal["seen", "move"] = Field(
        default="seen",
        description="what marks a message as taken once it is stored: the \\Seen flag "
        "(unseen messages are taken) or a move to processed_folder (every message is taken)",
    )
    processed_folder: str | None = Field(
        default=None,
        description="after: move: the folder taken messages go to (created if missing)",
    )
    poll_interval_seconds: float = Field(
        default=60.0,
        ge=1,
        le=86_400,
        description="time between searches of the folder; with IDLE too, in case the server "
        "missed announcing a message",
    )
    idle: bool = Field(default=True, description="use IDLE when the server offers it")
    idle_timeout_seconds: float = Field(
        default=300.0,
        ge=1,
        le=29 * 60,
        description="IDLE is renewed after this long (RFC 2177: under 29 minutes)",
    )
    timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="connect and read timeout of every IMAP call"
    )
    max_message_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1024,
        le=1024**3,
        description="larger messages (by RFC822.SIZE) are left in the folder, never fetched",
    )
    batch_size: int = Field(default=50, ge=1, le=1000, description="messages taken per round")
    reconnect_max_seconds: float = Field(
        default=300.0, ge=1, le=3600, description="longest wait between reconnect attempts"
    )

    _password = field_validator("password", mode="before")(_secret)

    @model_validator(mode="after")
    def _move_needs_folder(self) -> ImapAccountConfig:
        if self.after == "move" and not self.processed_folder:
            raise ValueError("after: move needs processed_folder")
        if self.processed_folder and self.processed_folder in self.folders:
            raise ValueError("processed_folder must not be one of the folders taken from")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 993 if self.security == "ssl" else 143


class ImapConfig(Strict):
    """Mail fetched from IMAP accounts (for mailboxes hosted elsewhere)."""

    accounts: tuple[ImapAccountConfig, ...] = Field(
        default=(), description="IMAP accounts to take mail from; empty: IMAP is off"
    )

    @field_validator("accounts")
    @classmethod
    def _unique_names(cls, value: tuple[ImapAccountConfig, ...]) -> tuple[ImapAccountConfig, ...]:
        _refuse_repeats("account name", [account.name for account in value])
        return value
