"""What a config load compiles into, swapped whole on reload (see gateway.reload).

Everything here is built from one validated config and is immutable, so a
request or a pipeline step sees either the old runtime or the new one,
never a mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import structlog
from pydantic import SecretStr

from core.errors import ConfigError
from core.records import Event, IntakeRecord
from gateway.config.mail import MailboxConfig
from gateway.config.model import IntegrationConfig, LoadedConfig
from gateway.confighash import config_hashes
from gateway.intake.answers import requester_answers
from gateway.intake.auth import Authenticator
from gateway.intake.mailintake import Mailbox, mailboxes_by_address
from gateway.intake.ratelimit import TokenBucket
from gateway.intake.webhooks import Integration, TallyFunction
from gateway.portal.intake import SOURCE as PORTAL_SOURCE
from parsers.base import Parser, Tallying
from parsers.email import EmailParser
from parsers.portal import PortalParser
from parsers.registry import PARSERS
from rules.engine import CompiledRuleSet
from rules.loader import load_ruleset
from storage import RequesterAnswers

# Samples of rejected bodies kept per integration: a burst, then a trickle.
_SAMPLES_PER_SECOND = 1.0
_SAMPLE_BURST = 20


log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    loaded: LoadedConfig
    integrations: Mapping[str, Integration]
    parsers: Mapping[str, Parser]  # by source (integration or mailbox name)
    ruleset: CompiledRuleSet
    mailboxes: Mapping[str, Mailbox]  # by lower-cased address
    answers: RequesterAnswers | None  # the mailboxes that acknowledge a mail to its sender
    hashes: Mapping[str, str]  # sha256 of the config file and of the rules, as loaded


@dataclass(frozen=True, slots=True)
class MailboxParser:
    """The email parser plus the mailbox's defaults: its service where the mail names
    none, and its incident type as the label ``incident_type`` for rules to act on."""

    parser: Parser
    service: str
    incident_type: str

    @classmethod
    def for_mailbox(cls, config: MailboxConfig) -> MailboxParser:
        return cls(EmailParser.from_options(config.options), config.service, config.type)

    def parse(self, record: IntakeRecord) -> list[Event]:
        return [self._with_defaults(event) for event in self.parser.parse(record)]

    def _with_defaults(self, event: Event) -> Event:
        return replace(
            event,
            service=event.service or self.service,
            labels={"incident_type": self.incident_type, **event.labels},
        )


def compile_runtime(loaded: LoadedConfig) -> Runtime:
    """Build parsers, authenticators, limiters and the rule set. Raises ConfigError."""
    config = loaded.config
    hashes = config_hashes(loaded)  # before compiling: the files as they were read
    integrations: dict[str, Integration] = {}
    for item in config.integrations:
        secrets: dict[str, SecretStr | None] = {
            name: loaded.secrets.get(f"integrations.{item.name}.{name}")
            for name in ("token", "password", "secret")
        }
        limiter = None
        if item.rate_limit is not None:
            rate = item.rate_limit
            limiter = TokenBucket(rate.per_second, rate.burst or rate.per_second)
        parser = PARSERS[item.kind](item.options)
        integrations[item.name] = Integration(
            config=item,
            parser=parser,
            tally=edge_tally(parser, item),
            auth=Authenticator(item.auth, secrets),
            max_body_bytes=item.max_body_bytes or config.http.max_body_bytes,
            limiter=limiter,
            sample_limiter=TokenBucket(_SAMPLES_PER_SECOND, _SAMPLE_BURST),
        )
    parsers: dict[str, Parser] = {name: item.parser for name, item in integrations.items()}
    for mailbox in config.mailboxes:
        parsers[mailbox.name] = MailboxParser.for_mailbox(mailbox)
    if config.portal.enabled:
        if PORTAL_SOURCE in parsers:
            raise ConfigError(
                f"{loaded.path}:0: '{PORTAL_SOURCE}' names the portal's records: "
                "no integration or mailbox may be called so while the portal is enabled"
            )
        parsers[PORTAL_SOURCE] = PortalParser()
    return Runtime(
        loaded=loaded,
        integrations=integrations,
        parsers=parsers,
        ruleset=_checked_rules(loaded),
        mailboxes=mailboxes_by_address(config.mailboxes),
        answers=requester_answers(config),
        hashes=hashes,
    )


def edge_tally(parser: Parser, config: IntegrationConfig) -> TallyFunction | None:
    """The parser's tally, for the edge to validate without parsing; none when the
    parser has none or the edge needs the events themselves (a heartbeat with a match)."""
    if not isinstance(parser, Tallying):
        return None
    if config.heartbeat is not None and config.heartbeat.match:
        return None
    return parser.tally


class RuntimeHolder:
    """The current runtime; readers call ``current`` each time, reload replaces it."""

    def __init__(self, runtime: Runtime) -> None:
        self.current = runtime


def _checked_rules(loaded: LoadedConfig) -> CompiledRuleSet:
    """The rule set, refused if it routes to a sink the config does not define."""
    config = loaded.config
    ruleset = load_ruleset(config.rules.dir, config.rules.catalogue)
    configured = {sink.name for sink in config.sinks}
    unknown = sorted(ruleset.route_names() - configured)
    if unknown:
        known = ", ".join(sorted(configured)) or "none"
        raise ConfigError(
            [
                f"{config.rules.dir}:0: rules route to sink '{name}', which {loaded.path} "
                f"does not define under sinks: (defined: {known})"
                for name in unknown
            ]
        )
    return ruleset
