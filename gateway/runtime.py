"""What a config load compiles into, swapped whole on reload (SIGHUP or API).

Everything here is built from one validated config and is immutable, so a
request or a pipeline step sees either the old runtime or the new one,
never a mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from gateway.auth import Authenticator
from gateway.config import LoadedConfig
from gateway.ratelimit import TokenBucket
from gateway.webhooks import Integration
from parsers.base import Parser
from parsers.registry import PARSERS
from rules.decision import RuleSet
from rules.placeholder import FingerprintRuleSet

# Samples of rejected bodies kept per integration: a burst, then a trickle.
_SAMPLES_PER_SECOND = 1.0
_SAMPLE_BURST = 20


@dataclass(frozen=True, slots=True)
class Runtime:
    loaded: LoadedConfig
    integrations: Mapping[str, Integration]
    parsers: Mapping[str, Parser]  # by source (integration or mailbox name)
    ruleset: RuleSet


def compile_runtime(loaded: LoadedConfig) -> Runtime:
    """Build parsers, authenticators, limiters and the rule set. Raises ConfigError."""
    config = loaded.config
    integrations: dict[str, Integration] = {}
    for item in config.integrations:
        secrets: dict[str, SecretStr | None] = {
            name: loaded.secrets.get(f"integrations.{item.name}.{name}")
            for name in ("token", "password", "secret")
        }
        limiter = None
        if item.rate_limit is not None:
            limiter = TokenBucket(
                item.rate_limit.per_second, item.rate_limit.per_second + item.rate_limit.burst
            )
        integrations[item.name] = Integration(
            config=item,
            parser=PARSERS[item.kind](item.options),
            auth=Authenticator(item.auth, secrets),
            max_body_bytes=item.max_body_bytes or config.http.max_body_bytes,
            limiter=limiter,
            sample_limiter=TokenBucket(_SAMPLES_PER_SECOND, _SAMPLE_BURST),
        )
    parsers: dict[str, Parser] = {name: item.parser for name, item in integrations.items()}
    return Runtime(
        loaded=loaded,
        integrations=integrations,
        parsers=parsers,
        ruleset=FingerprintRuleSet(),
    )


class RuntimeHolder:
    """The current runtime; readers call ``current`` each time, reload replaces it."""

    def __init__(self, runtime: Runtime) -> None:
        self.current = runtime
