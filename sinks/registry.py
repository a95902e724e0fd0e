"""Sink kinds: config kind -> implementation. An unknown kind is a config error (pydantic's
discriminated union refuses it), never a silent skip."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from sinks.base import HttpSink
from sinks.config import EmailSinkConfig, SinkConfig
from sinks.delivery import Sink
from sinks.dingtalk import DingTalkSink
from sinks.email import EmailSink
from sinks.feishu import FeishuSink
from sinks.jira import JiraSink
from sinks.pagerduty import PagerDutySink
from sinks.servicenow import ServiceNowSink
from sinks.slack import SlackSink
from sinks.smtp_transport import SmtpSettings, SmtpTransport
from sinks.teams import TeamsSink
from sinks.templates import Templates
from sinks.webhook import WebhookSink
from sinks.wecom import WeComSink
from sinks.zammad import ZammadSink


def email_transport(config: EmailSinkConfig) -> SmtpTransport:
    """The SMTP relay of an email sink (also what the scheduled report is mailed with)."""
    password = config.password.resolve().get_secret_value() if config.password else None
    return SmtpTransport(
        SmtpSettings(
            host=config.host,
            port=config.port,
            security=config.security,
            username=config.username,
            password=password,
            timeout=config.timeout_seconds,
        )
    )


def _email(config: EmailSinkConfig, session: aiohttp.ClientSession, templates: Templates) -> Sink:
    return EmailSink(config, email_transport(config), templates)


@dataclass(frozen=True, slots=True)
class SinkKind:
    templates: Mapping[str, str]  # role -> shipped template file
    build: Callable[[Any, aiohttp.ClientSession, Templates], Sink]


def _http(cls: type[HttpSink]) -> SinkKind:
    return SinkKind(cls.TEMPLATES, cls)


SINKS: Mapping[str, SinkKind] = {
    "webhook": _http(WebhookSink),
    "jira": _http(JiraSink),
    "servicenow": _http(ServiceNowSink),
    "zammad": _http(ZammadSink),
    "pagerduty": _http(PagerDutySink),
    "slack": _http(SlackSink),
    "teams": _http(TeamsSink),
    "dingtalk": _http(DingTalkSink),
    "wecom": _http(WeComSink),
    "feishu": _http(FeishuSink),
    "email": SinkKind(EmailSink.TEMPLATES, _email),
}


def templates_for(config: SinkConfig) -> Templates:
    """The sink's templates, compiled now: a broken override fails at startup."""
    return Templates(config.templates, SINKS[config.kind].templates)
