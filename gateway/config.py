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
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.errors import ConfigError
from gateway.yamlfile import describe_errors, load_yaml, to_plain

DEFAULT_CONFIG_PATH = Path("config/gateway.yaml")
CONFIG_ENV = "INTAKE_GATEWAY_CONFIG"
DB_URL_ENV = "INTAKE_GATEWAY_DB_URL"

_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(value: Any) -> ListenAddress:
    """``host:port`` or ``[v6]:port``; the host must be an IP address or ``localhost``."""
    if isinstance(value, ListenAddress):
        return value
    if not isinstance(value, str) or ":" not in value:
        raise ValueError(f"listen address must look like 127.0.0.1:8080, got {value!r}")
    host, _, port_text = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"port must be a number from 0 to 65535, got {port_text!r}")
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"host must be an IP address or localhost, got {host!r}") from None
    return ListenAddress(host, int(port_text))


Listen = Annotated[ListenAddress, Field(json_schema_extra={"type": "string"})]


class SecretRef(_Frozen):
    """A secret from the environment, a file, or (discouraged) inline."""

    env: str | None = Field(default=None, description="name of an environment variable")
    file: Path | None = Field(default=None, description="path of a file holding the secret")
    value: SecretStr | None = Field(default=None, description="inline value (tests only)")

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        given = [name for name in ("env", "file", "value") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of env, file or value")
        return self

    def resolve(self) -> SecretStr:
        if self.env is not None:
            found = os.environ.get(self.env)
            if not found:
                raise ValueError(f"environment variable {self.env} is not set or empty")
            return SecretStr(found)
        if self.file is not None:
            try:
                text = self.file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"cannot read secret file {self.file}: {exc.strerror}") from None
            if not text:
                raise ValueError(f"secret file {self.file} is empty")
            return SecretStr(text)
        assert self.value is not None
        return self.value


def _secret(value: Any) -> Any:
    """Accept a plain string as an inline secret, for brevity in examples."""
    return {"value": value} if isinstance(value, str) else value


class StorageConfig(_Frozen):
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
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("sqlite://", "postgres://", "postgresql://")):
            raise ValueError("url must start with sqlite:// or postgres://")
        return url


class HttpConfig(_Frozen):
    listen: Listen = Field(default=ListenAddress("127.0.0.1", 8080), description="host:port")
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="largest webhook body accepted (after gzip)"
    )
    api_token: SecretRef | None = Field(
        default=None,
        description="bearer token for API writes (acknowledge, resolve, silences, reload); "
        "unset: API writes are only accepted from loopback clients",
    )
    rejected_sample_bytes: int = Field(
        default=4096, ge=0, le=1024 * 1024, description="bytes of a rejected body kept"
    )

    _listen = field_validator("listen", mode="before")(parse_listen)
    _token = field_validator("api_token", mode="before")(_secret)


class AuthConfig(_Frozen):
    """How a webhook sender proves who it is."""

    type: Literal["none", "bearer", "basic", "hmac"] = "none"
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
    replay_window_seconds: int = Field(default=300, ge=1, le=86_400)

    _secrets = field_validator("token", "password", "secret", mode="before")(_secret)

    @model_validator(mode="after")
    def _needed_fields(self) -> AuthConfig:
        needed = {"bearer": ("token",), "basic": ("username", "password"), "hmac": ("secret",)}
        missing = [name for name in needed.get(self.type, ()) if getattr(self, name) is None]
        if missing:
            raise ValueError(f"auth type {self.type} needs {', '.join(missing)}")
        return self


class RateLimitConfig(_Frozen):
    per_second: float = Field(gt=0, description="sustained requests per second")
    burst: int = Field(default=0, ge=0, description="extra requests allowed at once")


class EventDefaults(_Frozen):
    service: str = ""
    environment: str = ""
    ci: str = ""


class IntegrationConfig(_Frozen):
    name: str = Field(pattern=_NAME_PATTERN, description="the {name} in POST /webhooks/{name}")
    kind: str = Field(description="parser kind: generic, alertmanager, grafana, zabbix, nagios")
    auth: AuthConfig = AuthConfig()
    options: dict[str, Any] = Field(default_factory=dict, description="options of the kind")
    defaults: EventDefaults = EventDefaults()
    max_body_bytes: int | None = Field(default=None, ge=64, description="overrides http's")
    rate_limit: RateLimitConfig | None = None
    delivery_id_header: str | None = Field(
        default=None,
        description="header naming a unique delivery (e.g. X-GitHub-Delivery); "
        "a repeated id is acknowledged and changes nothing",
    )
    dedup_window_seconds: int = Field(
        default=300, ge=0, description="an identical body within this window is a duplicate"
    )


class RulesConfig(_Frozen):
    dir: Path = Field(default=Path("config/rules"), description="directory of *.yaml rule files")
    catalogue: Path | None = Field(
        default=Path("config/catalogue.yaml"), description="service catalogue; null for none"
    )


class PipelineConfig(_Frozen):
    batch_size: int = Field(default=256, ge=1, le=10_000, description="records per transaction")
    recovery_interval_seconds: float = Field(
        default=5.0, gt=0, description="how often stored but unprocessed records are picked up"
    )
    thread_parse_bytes: int = Field(
        default=64 * 1024, ge=0, description="records larger than this are parsed in a thread"
    )


class LoggingConfig(_Frozen):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: readable on a terminal, JSON otherwise"
    )


class LifecycleConfig(_Frozen):
    drain_seconds: float = Field(
        default=8.0, gt=0, le=300, description="SIGTERM: time to finish in-flight work"
    )
    heartbeat_seconds: float = Field(
        default=5.0, gt=0, description="pipeline heartbeat (systemd WATCHDOG=1)"
    )


class GatewayConfig(_Frozen):
    storage: StorageConfig = StorageConfig()
    http: HttpConfig = HttpConfig()
    integrations: tuple[IntegrationConfig, ...] = ()
    rules: RulesConfig = RulesConfig()
    pipeline: PipelineConfig = PipelineConfig()
    logging: LoggingConfig = LoggingConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()
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
    secrets = _resolve_secrets(config, path, document, problems)
    problems.extend(_check_kinds(config, path, document))
    if problems:
        raise ConfigError(problems)
    return LoadedConfig(path=path, config=config, secrets=Secrets(secrets))


def _resolve_secrets(
    config: GatewayConfig, path: Path, document: Any, problems: list[str]
) -> dict[str, SecretStr]:
    from gateway.yamlfile import line_of

    found: dict[str, SecretStr] = {}
    refs: list[tuple[str, tuple[int | str, ...], SecretRef | None]] = [
        ("http.api_token", ("http", "api_token"), config.http.api_token)
    ]
    for index, item in enumerate(config.integrations):
        for name in ("token", "password", "secret"):
            refs.append(
                (
                    f"integrations.{item.name}.{name}",
                    ("integrations", index, "auth", name),
                    getattr(item.auth, name),
                )
            )
    for key, location, ref in refs:
        if ref is None:
            continue
        try:
            found[key] = ref.resolve()
        except ValueError as exc:
            problems.append(f"{path}:{line_of(document, location)}: {key}: {exc}")
    return found


def _check_kinds(config: GatewayConfig, path: Path, document: Any) -> list[str]:
    """Parser kinds must exist and their options must validate."""
    from gateway.yamlfile import line_of
    from parsers.registry import PARSERS

    problems = []
    for index, item in enumerate(config.integrations):
        factory = PARSERS.get(item.kind)
        if factory is None:
            line = line_of(document, ("integrations", index, "kind"))
            known = ", ".join(sorted(PARSERS))
            problems.append(
                f"{path}:{line}: integrations.{item.name}.kind: unknown kind "
                f"'{item.kind}' (known: {known})"
            )
            continue
        try:
            factory(item.options)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                location = ("integrations", index, "options", *error["loc"])
                field = ".".join(str(step) for step in error["loc"])
                message = str(error["msg"]).removeprefix("Value error, ")
                problems.append(
                    f"{path}:{line_of(document, location)}: "
                    f"integrations.{item.name}.options.{field}: {message}"
                )
        except ValueError as exc:
            line = line_of(document, ("integrations", index, "options"))
            problems.append(f"{path}:{line}: integrations.{item.name}.options: {exc}")
    return problems
