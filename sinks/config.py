"""``sinks:`` in gateway.yaml: where tickets go, one entry per named sink.

Every sink has a ``name`` (used in rules' routes, outbox rows, metrics and
URLs) and a ``kind`` (the implementation, from ``sinks/registry.py``). The
delivery policy (retries, circuit breaker, rate limit, fallback, comment
throttle) is common to every kind. Secrets are ``{env: NAME}`` or
``{file: /path}``; URLs that carry a token (Slack, Teams, DingTalk, WeCom,
Feishu) are secrets too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from core.configbase import NAME_PATTERN
from core.secretref import SecretRef
from core.validation import Strict

_PRIORITIES = ("P1", "P2", "P3", "P4")


class RetryPolicy(Strict):
    """Capped exponential backoff with full jitter; Retry-After is honoured."""

    base_seconds: float = Field(default=2.0, gt=0, description="first retry ceiling")
    cap_seconds: float = Field(default=300.0, gt=0, description="longest wait between tries")
    max_age_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="a row still failing this long after it was queued is dead-lettered",
    )


class CircuitPolicy(Strict):
    """closed -> open after consecutive failures; half-open lets one delivery probe."""

    failures: int = Field(default=5, ge=1, description="consecutive failures that open it")
    open_seconds: float = Field(default=30.0, gt=0, description="time open before a probe")


class RateLimit(Strict):
    """Token bucket: deliveries beyond it wait in the outbox (and coalesce), never dropped."""

    per_second: float = Field(gt=0, description="sustained deliveries per second")
    burst: int = Field(default=1, ge=1, description="deliveries allowed at once: the bucket's size")


InboundStatus = Literal["acknowledged", "resolved", "closed", "reopened", "ignore"]


class InboundConfig(Strict):
    """Status webhooks from the ticket system back to the gateway (POST /hooks/<kind>/<sink>)."""

    token: SecretRef | None = Field(
        default=None, description="accept 'Authorization: Bearer <token>' (or ?token=<token>)"
    )
    secret: SecretRef | None = Field(
        default=None,
        description="accept an HMAC of the body in X-Hub-Signature (Jira: sha256=, "
        "Zammad: sha1=) or X-Signature (generic: sha256=)",
    )
    status_map: Mapping[str, InboundStatus] = Field(
        default_factory=dict,
        description="the system's status name -> what it means here; names not listed fall "
        "back to the kind's defaults (Jira: status category; Zammad: open, closed, merged)",
    )

    @model_validator(mode="after")
    def _some_proof(self) -> InboundConfig:
        if self.token is None and self.secret is None:
            raise ValueError("give a token or a secret: inbound hooks change incidents")
        return self


class _SinkBase(Strict):
    name: str = Field(pattern=NAME_PATTERN, description="the sink's name in routes and metrics")
    enabled: bool = Field(default=True, description="false: rows wait in the outbox")
    timeout_seconds: float = Field(default=10.0, gt=0, le=300, description="per request")
    max_in_flight: int = Field(default=4, ge=1, le=256, description="concurrent deliveries")
    retry: RetryPolicy = RetryPolicy()
    circuit: CircuitPolicy = CircuitPolicy()
    rate_limit: RateLimit | None = Field(default=None, description="none: no limit")
    fallback: str | None = Field(
        default=None,
        description="another sink's name: gets a copy of rows dead-lettered here, and of rows "
        "waiting while this sink's circuit is open",
    )
    comment_interval_seconds: float = Field(
        default=300.0,
        ge=0,
        description="at most one comment per incident per this interval; "
        "the ones in between are summarised into it",
    )
    templates: Mapping[str, Path] = Field(
        default_factory=dict,
        description="template name -> file overriding the shipped default "
        "(see docs/forwarding.md for the names each kind uses)",
    )
    inbound: InboundConfig | None = Field(
        default=None, description="status webhooks back from this system; none: refused"
    )


class WebhookSinkConfig(_SinkBase):
    """Any HTTP endpoint; the body is the ``body`` template (JSON)."""

    kind: Literal["webhook"] = Field(description="selects this kind of sink")
    url: str = Field(description="endpoint URL")
    method: Literal["POST", "PUT", "PATCH"] = Field(default="POST", description="HTTP method")
    headers: Mapping[str, str] = Field(default_factory=dict, description="extra request headers")
    secret: SecretRef | None = Field(
        default=None,
        description="signs '<timestamp>.<body>' with HMAC-SHA256 into signature_header",
    )
    signature_header: str = Field(default="X-Signature", description="'sha256=<hex>'")
    timestamp_header: str = Field(default="X-Timestamp", description="Unix time signed")


class JiraSinkConfig(_SinkBase):
    """Jira Cloud (API token) or Data Center (personal access token), REST v2 or v3."""

    kind: Literal["jira"] = Field(description="selects this kind of sink")
    url: str = Field(description="base URL, e.g. https://example.atlassian.net")
    api_version: Literal[2, 3] = Field(default=2, description="3 sends ADF documents")
    email: str | None = Field(default=None, description="Cloud: account email (basic auth)")
    token: SecretRef = Field(description="Cloud: API token; Data Center: personal access token")
    project: str = Field(description="project key, e.g. OPS")
    issue_type: str = Field(default="Incident", description="issue type name")
    priority_map: Mapping[str, str] = Field(
        default_factory=lambda: {"P1": "Highest", "P2": "High", "P3": "Medium", "P4": "Low"},
        description="gateway priority -> Jira priority name",
    )
    label_prefix: str = Field(
        default="intake-", description="label '<prefix><incident key>' finds the issue again"
    )
    correlation_field: str | None = Field(
        default=None,
        description="custom field id (customfield_10050) holding the incident key; "
        "searched instead of the label when set",
    )
    labels: tuple[str, ...] = Field(default=(), description="extra labels on every issue")
    resolve_transition: str = Field(default="Done", description="transition name on resolve")
    reopen_transition: str = Field(default="Reopen", description="transition name on reopen")
    acknowledge_transition: str | None = Field(
        default=None, description="transition name when acknowledged; none: a comment only"
    )


class ServiceNowSinkConfig(_SinkBase):
    """ServiceNow Table API, table ``incident``; correlation_id holds the incident key."""

    kind: Literal["servicenow"] = Field(description="selects this kind of sink")
    url: str = Field(description="instance URL, e.g. https://example.service-now.com")
    username: str = Field(description="integration user")
    password: SecretRef = Field(description="its password")
    assignment_group: str | None = Field(default=None, description="group sys_id or name")
    caller_id: str | None = Field(default=None, description="caller sys_id or user name")
    resolve_state: str = Field(default="6", description="state value for resolved")
    close_state: str = Field(default="7", description="state value for closed")
    reopen_state: str = Field(default="2", description="state value on reopen (In Progress)")
    acknowledge_state: str | None = Field(
        default="2", description="state value when acknowledged; none: work note only"
    )
    close_code: str = Field(default="Solved (Permanently)", description="close_code on resolve")


class ZammadSinkConfig(_SinkBase):
    """Zammad REST API (tickets, ticket_articles, search)."""

    kind: Literal["zammad"] = Field(description="selects this kind of sink")
    url: str = Field(description="base URL, e.g. https://helpdesk.example.com")
    token: SecretRef = Field(description="access token (Authorization: Token token=...)")
    group: str = Field(description="group the tickets go to")
    customer: str = Field(description="customer email or login the tickets are for")
    priority_map: Mapping[str, str] = Field(
        default_factory=lambda: {"P1": "3 high", "P2": "3 high", "P3": "2 normal", "P4": "1 low"},
        description="gateway priority -> Zammad priority name",
    )
    resolve_state: str = Field(default="closed", description="state on resolve")
    close_state: str = Field(default="closed", description="state on close")
    reopen_state: str = Field(default="open", description="state on reopen")
    acknowledge_state: str | None = Field(default="open", description="state when acknowledged")


Severity = Literal["critical", "error", "warning", "info"]


def _default_severities() -> dict[str, Severity]:
    return {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info"}


class PagerDutySinkConfig(_SinkBase):
    """PagerDuty Events API v2: dedup_key is the incident key."""

    kind: Literal["pagerduty"] = Field(description="selects this kind of sink")
    url: str = Field(
        default="https://events.pagerduty.com/v2/enqueue", description="Events API endpoint"
    )
    routing_key: SecretRef = Field(description="integration (routing) key")
    severity_map: Mapping[str, Severity] = Field(
        default_factory=_default_severities,
        description="gateway priority -> PagerDuty severity",
    )


class ChatSinkConfig(_SinkBase):
    url: SecretRef = Field(description="the incoming webhook URL (it carries the token)")


class SignedChatSinkConfig(ChatSinkConfig):
    secret: SecretRef | None = Field(
        default=None, description="the robot's signing secret; none: unsigned"
    )


class SlackSinkConfig(ChatSinkConfig):
    """Slack incoming webhook."""

    kind: Literal["slack"] = Field(description="selects this kind of sink")


class TeamsSinkConfig(ChatSinkConfig):
    """Teams incoming webhook or Workflows webhook; the message is an Adaptive Card."""

    kind: Literal["teams"] = Field(description="selects this kind of sink")


class DingTalkSinkConfig(SignedChatSinkConfig):
    """DingTalk group robot, signed with its secret."""

    kind: Literal["dingtalk"] = Field(description="selects this kind of sink")


class WeComSinkConfig(ChatSinkConfig):
    """WeCom (企业微信) group robot."""

    kind: Literal["wecom"] = Field(description="selects this kind of sink")


class FeishuSinkConfig(SignedChatSinkConfig):
    """Feishu (飞书) custom robot, signed with its secret."""

    kind: Literal["feishu"] = Field(description="selects this kind of sink")


class EmailSinkConfig(_SinkBase):
    """Mail through an SMTP relay; replies thread back to the incident."""

    kind: Literal["email"] = Field(description="selects this kind of sink")
    host: str = Field(description="SMTP relay host")
    port: int = Field(default=25, ge=1, le=65535, description="SMTP port")
    security: Literal["none", "starttls", "tls"] = Field(
        default="starttls", description="starttls: upgrade on 'port'; tls: implicit TLS (465)"
    )
    username: str | None = Field(default=None, description="AUTH user; none: no AUTH")
    password: SecretRef | None = Field(default=None, description="AUTH password")
    from_address: str = Field(description="From: address (replies come back to it)")
    to: tuple[str, ...] = Field(min_length=1, description="recipients")
    message_id_domain: str = Field(
        default="intake-gateway.invalid", description="right-hand side of Message-IDs sent"
    )

    @model_validator(mode="after")
    def _auth_pair(self) -> EmailSinkConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        return self


SinkConfig = Annotated[
    WebhookSinkConfig
    | JiraSinkConfig
    | ServiceNowSinkConfig
    | ZammadSinkConfig
    | PagerDutySinkConfig
    | SlackSinkConfig
    | TeamsSinkConfig
    | DingTalkSinkConfig
    | WeComSinkConfig
    | FeishuSinkConfig
    | EmailSinkConfig,
    Field(discriminator="kind"),
]


def check_priority_maps(sink: BaseModel) -> list[str]:
    """Every priority must map somewhere; a gap would fail deliveries at 3 a.m."""
    problems = []
    for field_name in ("priority_map", "severity_map"):
        mapping = getattr(sink, field_name, None)
        if mapping is None:
            continue
        missing = [p for p in _PRIORITIES if p not in mapping]
        if missing:
            problems.append(f"{field_name}: no value for {', '.join(missing)}")
    return problems


def sink_problems(sinks: Sequence[SinkConfig]) -> list[str]:
    """Cross-checks pydantic cannot do per entry: unique names, fallbacks, secrets, maps.

    Each problem reads ``sinks.<name>.<field>: message``.
    """
    problems: list[str] = []
    names = [sink.name for sink in sinks]
    for sink in sinks:
        where = f"sinks.{sink.name}"
        if names.count(sink.name) > 1:
            problems.append(f"{where}: the name is used twice")
        if sink.fallback is not None:
            if sink.fallback == sink.name:
                problems.append(f"{where}.fallback: a sink cannot fall back to itself")
            elif sink.fallback not in names:
                problems.append(f"{where}.fallback: no sink named '{sink.fallback}'")
        problems.extend(f"{where}.{problem}" for problem in check_priority_maps(sink))
        secrets = [(name, value) for name, value in sink]
        if sink.inbound is not None:
            secrets += [(f"inbound.{name}", value) for name, value in sink.inbound]
        for field_name, value in secrets:
            if isinstance(value, SecretRef):
                try:
                    value.resolve()
                except ValueError as exc:
                    problems.append(f"{where}.{field_name}: {exc}")
    return problems
