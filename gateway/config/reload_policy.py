"""What a reload (SIGHUP or ``POST /api/v1/reload``) applies, and what needs a restart.

Every section of the config is in exactly one of the two tables below (a
test holds them to the config model, so a new section must choose). A
reload that changes anything in the second table is refused as a whole,
naming each option and why it needs a restart: a reload never says
"reloaded" and leaves part of the new file unused.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.config.model import GatewayConfig
from gateway.config.yamlfile import line_of, load_yaml

# Taken in by a reload: what is built from them is swapped whole.
APPLIED_ON_RELOAD: Mapping[str, str] = {
    "http.api_token": "checked on every API request against the current value",
    "http.api_read_token": "checked on every API request against the current value",
    "http.trusted_proxies": "read on every request that asks who the client is",
    "console": "people, roles and session settings are read on every console request; "
    "a new session_secret ends every session",
    "integrations": "parsers, authentication and limits of POST /webhooks/{name}",
    "mailboxes": "addresses, parser options and answers to requesters",
    "rules": "rule files and the service catalogue, compiled anew",
    "reports": "the monthly report's schedule is read each minute from the config in force",
    "sinks": "a new set of sinks replaces the old: deliveries in flight finish on the old "
    "ones; a removed sink's rows stay in the outbox (counted as unconfigured) until a sink "
    "of that name comes back",
}

# Read once at start: a change is refused with the reason, until a restart.
RESTART_NEEDED: Mapping[str, str] = {
    "storage": "the database is opened at start",
    "http.listen": "the HTTP listener is bound at start",
    "http.max_body_bytes": "the HTTP listener's body cap is set at start",
    "http.rejected_sample_bytes": "the webhook intake is built at start",
    "smtp": "the SMTP listener is bound and configured at start",
    "imap": "the IMAP pollers start with their accounts",
    "pipeline": "the pipeline and its parse workers start with these settings",
    "logging": "logging is set up at start",
    "lifecycle": "the drain deadlines and the watchdog are set at start",
    "retention": "the retention job starts with these settings",
    "instance": "the replica's name (logs, leases) is taken at start",
    "portal": "the portal's pages, limits and link keys are set up at start",
}


def _value(config: GatewayConfig, name: str) -> Any:
    value: Any = config
    for step in name.split("."):
        value = getattr(value, step)
    return value


def restart_problems(old: GatewayConfig, new: GatewayConfig, path: Path) -> list[str]:
    """``file:line: option: why`` for every change a reload cannot apply."""
    changed = [name for name in RESTART_NEEDED if _value(old, name) != _value(new, name)]
    problems: list[tuple[tuple[str, ...], str]] = [
        (
            tuple(name.split(".")),
            f"{name}: changed, but {RESTART_NEEDED[name]}: restart to apply it",
        )
        for name in changed
    ]
    if "http.max_body_bytes" not in changed and new.body_cap() > old.body_cap():
        problems.append(
            (
                ("integrations",),
                f"integrations: a max_body_bytes of {new.body_cap()} is above the HTTP "
                f"listener's body cap set at start ({old.body_cap()}): restart to apply it",
            )
        )
    if not problems:
        return []
    document = load_yaml(path)
    return [f"{path}:{line_of(document, where)}: {message}" for where, message in problems]
