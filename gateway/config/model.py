"""``config/gateway.yaml``: validated into frozen objects, every problem as ``file:line``.

Unknown keys are errors (a typo must not pass silently). Secrets are given as
``{env: NAME}`` or ``{file: /path}`` (or inline, for tests and examples) and
are resolved once at load time, so a missing variable is a load error and not
a 401 at three in the morning. Relative paths are relative to the working
directory (the systemd unit sets it).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from core.configbase import NAME_PATTERN, Listen, ListenAddress, parse_listen
from core.errors import ConfigError
from core.secretref import SecretRef
from core.secretref import inline_secret as _secret
from core.validation import Duration, Strict
from gateway.config.checks import check_kinds, check_mail, check_sinks, resolve_secrets
from gateway.config.daemon import LifecycleConfig, LoggingConfig, RetentionConfig
from gateway.config.mail import ImapConfig, MailboxConfig, SmtpConfig
from gateway.config.yamlfile import describe_errors, line_of, load_yaml, to_plain
from gateway.console.config import ConsoleConfig
from gateway.portal.config import PortalConfig
from gateway.reports.config import ReportsConfig, schedule_problems
from rules.matchers import MatcherError, compile_block
from sinks.config import SinkConfig

DEFAULT_CONFIG_PATH = Path("config/gateway.yaml")
CONFIG_ENV = "INTAKE_GATEWAY_CONFIG"
DB_URL_ENV = "INTAKE_GATEWAY_DB_URL"


class StorageConfig(Strict):
    """Where intake records, events and incidents are kept."""

    url: str = Field(
        default="sqlite://./data/intake-gateway.sqlite3",
        description="sqlite://PATH (embedded) or postgres://user@host:5432/db; "
        f"env {DB_URL_ENV} overrides",
    )
    sqlite_synchronous: Literal["full", "extra"] = Field(
        default="full", description="SQLite fsync level; 'full' makes every commit durable"
    )
    group_commit_max_batch: int = Field(
        default=512, ge=1, le=10_000, description="intake records committed in one transaction"
    )
    pool_size: int = Field(default=10, ge=1, le=200, description="PostgreSQL connections")
    connect_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=120,
        description="how long to wait for a connection or a health check before answering 503",
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("sqlite://", "postgres://", "postgresql://")):
            raise ValueError("url must start with sqlite:// or postgres://")
        return url


class HttpConfig(Strict):
    """The HTTP listener: webhooks, the JSON API, health and metrics."""

    listen: Listen = Field(default=ListenAddress("127.0.0.1", 8080), description="host:port")
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="largest webhook body accepted (after gzip)"
    )
    api_token: SecretRef | None = Field(
        default=None,
        description="bearer token every /api/v1/ request needs, reads and writes alike; "
        "unset (and api_read_token unset): the API answers loopback clients only",
    )
    api_read_token: SecretRef | None = Field(
        default=None,
        description="bearer token for GET requests of /api/v1/ only (dashboards, reports) "
        "and POST /api/v1/explain, which stores nothing; "
        "with either token set, every /api/v1/ request needs one",
    )
    rejected_sample_bytes: int = Field(
        default=4096, ge=0, le=1024 * 1024, description="bytes of a rejected body kept"
    )
    trusted_proxies: tuple[str, ...] = Field(
        default=(),
        description="addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For "
        "and X-Forwarded-Proto are believed; a request with forwarding headers from any "
        "other peer has an unknown client (never a loopback one)",
    )

    _listen = field_validator("listen", mode="before")(parse_listen)
    _token = field_validator("api_token", "api_read_token", mode="before")(_secret)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"not an address or network: {item!r}") from None
        return value


class AuthConfig(Strict):
    """How a webhook sender proves who it is."""

    type: Literal["none", "bearer", "basic", "hmac"] = Field(
        default="none", description="none, bearer token, HTTP basic, or HMAC-SHA256 signature"
    )
    token: SecretRef | None = Field(default=None, description="bearer: the expected token")
    username: str | None = Field(default=None, description="basic: user name")
    password: SecretRef | None = Field(default=None, description="basic: password")
    secret: SecretRef | None = Field(default=None, description="hmac: shared signing secret")
    signature_header: str = Field(
        default="X-Signature", description="hmac: header holding 'sha256=<hex>' or '<hex>'"
    )
    timestamp_header: str = Field(
        default="X-Timestamp",
        description="hmac: header with the Unix time the sender signed; "
        "the signed text is '<timestamp>.<body>'",
    )
    replay_window_seconds: int = Field(
        default=300,
        ge=1,
        le=86_400,
        description="hmac: a signature older (or newer) than this is refused as stale "
        "(stale_signature); within it, a signature already accepted is refused as a replay "
        "(replayed_signature)",
    )

    _secrets = field_validator("token", "password", "secret", mode="before")(_secret)

    @model_validator(mode="after")
    def _needed_fields(self) -> AuthConfig:
        needed = {"bearer": ("token",), "basic": ("username", "password"), "hmac": ("secret",)}
        missing = [name for name in needed.get(self.type, ()) if getattr(self, name) is None]
        if missing:
            raise ValueError(f"auth type {self.type} needs {', '.join(missing)}")
        return self


class RateLimitConfig(Strict):
    """A token bucket: a sustained rate, and a bucket of requests that may come at once
    (the same meaning as a sink's rate_limit)."""

    per_second: float = Field(gt=0, description="sustained requests per second")
    burst: int | None = Field(
        default=None,
        ge=1,
        description="requests allowed at once: the bucket's size, not added to per_second; "
        "unset: one second's worth (per_second, at least 1)",
    )


class EventDefaults(Strict):
    """Values for events that do not carry their own."""

    service: str = Field(default="", description="service of events without one")
    environment: str = Field(default="", description="environment (prod, staging, ...)")
    ci: str = Field(default="", description="configuration item of events without one")


class HeartbeatConfig(Strict):
    """A sign of life the integration's sender must give (e.g. Alertmanager's Watchdog
    alert); silence beyond the timeout raises a P2 incident of its own, resolved when
    the heartbeat returns."""

    timeout: Duration = Field(
        description="silence longer than this raises the incident: 90s, 5m, 1h or seconds"
    )
    match: dict[str, Any] = Field(
        default_factory=dict,
        description="event fields that make an event a heartbeat, written like a rule's "
        "match: (e.g. {labels.alertname: Watchdog}); empty: every accepted delivery",
    )

    @field_validator("timeout")
    @classmethod
    def _at_least_a_second(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("timeout must be at least 1s")
        return value

    @field_validator("match")
    @classmethod
    def _compiles(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            compile_block(value)
        except MatcherError as exc:
            raise ValueError(str(exc)) from None
        return value


class IntegrationConfig(Strict):
    """A sender of webhooks: POST /webhooks/{name}, read by the parser of its kind."""

    name: str = Field(pattern=NAME_PATTERN, description="the {name} in POST /webhooks/{name}")
    kind: str = Field(
        description="parser kind: generic, alertmanager, grafana, zabbix, nagios, icinga"
    )
    auth: AuthConfig = Field(default=AuthConfig(), description="how the sender authenticates")
    options: dict[str, Any] = Field(default_factory=dict, description="options of the kind")
    defaults: EventDefaults = Field(
        default=EventDefaults(), description="field values for events that lack them"
    )
    max_body_bytes: int | None = Field(default=None, ge=64, description="overrides http's")
    rate_limit: RateLimitConfig | None = Field(
        default=None, description="requests per second accepted; unset: no limit"
    )
    delivery_id_header: str | None = Field(
        default=None,
        description="header naming a unique delivery (e.g. X-GitHub-Delivery); "
        "a repeated id is acknowledged and changes nothing",
    )
    dedup_window_seconds: int = Field(
        default=300, ge=0, description="an identical body within this window is a duplicate"
    )
    heartbeat: HeartbeatConfig | None = Field(
        default=None, description="expected sign of life; unset: none is expected"
    )


class RulesConfig(Strict):
    """Rule files and the service catalogue, compiled at start and on reload."""

    dir: Path = Field(default=Path("config/rules"), description="directory of *.yaml rule files")
    catalogue: Path | None = Field(
        default=Path("config/catalogue.yaml"), description="service catalogue; null for none"
    )


class PipelineConfig(Strict):
    """The worker that turns stored intake into events and incidents."""

    batch_size: int = Field(default=256, ge=1, le=10_000, description="records per transaction")
    recovery_interval_seconds: float = Field(
        default=5.0, gt=0, description="how often stored but unprocessed records are picked up"
    )
    periodic_interval_seconds: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="how often hold-down resolutions, auto-close and SLA escalations run",
    )
    thread_parse_bytes: int = Field(
        default=64 * 1024, ge=0, description="records larger than this are parsed in a thread"
    )
    busy_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="while senders press intake (it spends half its time committing), the "
        "largest share of the daemon's time that correlation takes (acknowledging comes "
        "first; correlation runs at full speed once the pressure ends, and under a steady "
        "load that leaves intake time to spare); 1: no limit",
    )
    parse_workers: int | Literal["auto"] = Field(
        default="auto",
        description="worker processes that parse mail (MIME parsing is CPU-heavy) so that "
        "acknowledging senders never waits behind it; auto: one per core beyond the first, "
        "at least one; 0: parse in the daemon's own process",
    )
    parse_worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="nice value added to the parse workers: a busy machine runs intake first "
        "and parsing catches up when there is room",
    )

    @field_validator("parse_workers")
    @classmethod
    def _workers_in_range(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 0 <= value <= 64:
            raise ValueError("parse_workers must be auto or a number from 0 to 64")
        return value


class GatewayConfig(Strict):
    """The whole of config/gateway.yaml."""

    storage: StorageConfig = StorageConfig()
    http: HttpConfig = HttpConfig()
    integrations: tuple[IntegrationConfig, ...] = ()
    smtp: SmtpConfig = SmtpConfig()
    mailboxes: tuple[MailboxConfig, ...] = ()
    imap: ImapConfig = ImapConfig()
    rules: RulesConfig = RulesConfig()
    pipeline: PipelineConfig = PipelineConfig()
    logging: LoggingConfig = LoggingConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()
    sinks: tuple[SinkConfig, ...] = Field(
        default=(),
        description="where incidents are forwarded (ticket systems, chat, mail, webhooks); "
        "rules name them in routes",
    )
    retention: RetentionConfig = RetentionConfig()
    portal: PortalConfig = PortalConfig()
    console: ConsoleConfig = ConsoleConfig()
    reports: ReportsConfig = ReportsConfig()
    instance: str = Field(
        default="", description="this replica's name in logs and leases (default: hostname:pid)"
    )

    @field_validator("integrations")
    @classmethod
    def _unique_names(cls, value: tuple[IntegrationConfig, ...]) -> tuple[IntegrationConfig, ...]:
        seen: set[str] = set()
        for item in value:
            if item.name in seen:
                raise ValueError(f"integration name '{item.name}' is used twice")
            seen.add(item.name)
        return value

    def body_cap(self) -> int:
        """The largest body the HTTP listener takes; each integration bounds its own."""
        return max([self.http.max_body_bytes] + [i.max_body_bytes or 0 for i in self.integrations])

    def integration(self, name: str) -> IntegrationConfig | None:
        for item in self.integrations:
            if item.name == name:
                return item
        return None


@dataclass(frozen=True, slots=True)
class Secrets:
    """Secrets resolved at load time, keyed by where they are configured."""

    values: Mapping[str, SecretStr]

    def get(self, key: str) -> SecretStr | None:
        return self.values.get(key)


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    path: Path
    config: GatewayConfig
    secrets: Secrets


def config_path(explicit: str | os.PathLike[str] | None) -> Path:
    """--config, else $INTAKE_GATEWAY_CONFIG, else config/gateway.yaml."""
    if explicit:
        return Path(explicit)
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)


def load_config(path: Path) -> LoadedConfig:
    """Read, validate and resolve; raise ConfigError listing every problem."""
    document = load_yaml(path)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}:1: the file must be a mapping of sections")
    try:
        config = GatewayConfig.model_validate(to_plain(document))
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, path, document)) from None
    override = os.environ.get(DB_URL_ENV)
    if override:
        try:
            storage = StorageConfig.model_validate({**config.storage.model_dump(), "url": override})
        except ValidationError as exc:
            raise ConfigError(f"{DB_URL_ENV}: {exc.errors()[0]['msg']}") from None
        config = config.model_copy(update={"storage": storage})
    problems: list[str] = []
    secrets = resolve_secrets(config, path, document, problems)
    problems.extend(check_mail(config, path, document))
    problems.extend(check_kinds(config, path, document))
    problems.extend(check_sinks(config, path, document))
    where = line_of(document, ("reports", "schedule", "sink"))
    problems.extend(
        f"{path}:{where}: {problem}" for problem in schedule_problems(config.reports, config.sinks)
    )
    if problems:
        raise ConfigError(problems)
    return LoadedConfig(path=path, config=config, secrets=Secrets(secrets))
