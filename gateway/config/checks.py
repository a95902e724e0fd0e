"""Checks of the whole gateway config that no single section can make: names and
addresses used twice, references between sections, parser options, and secrets
resolved, each problem as ``file:line``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr, ValidationError

from core.secretref import SecretRef
from gateway.config.yamlfile import line_of
from sinks.config import sink_problems

if TYPE_CHECKING:
    from gateway.config.mail import RequesterNotifyConfig
    from gateway.config.model import GatewayConfig


def resolve_secrets(
    config: GatewayConfig, path: Path, document: Any, problems: list[str]
) -> dict[str, SecretStr]:

    found: dict[str, SecretStr] = {}
    refs: list[tuple[str, tuple[int | str, ...], SecretRef | None]] = [
        ("http.api_token", ("http", "api_token"), config.http.api_token),
        ("http.api_read_token", ("http", "api_read_token"), config.http.api_read_token),
        ("console.session_secret", ("console", "session_secret"), config.console.session_secret),
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
    for index, user in enumerate(config.smtp.auth.users if config.smtp.auth else ()):
        location: tuple[int | str, ...] = ("smtp", "auth", "users", index, "password")
        refs.append((f"smtp.auth.{user.username}", location, user.password))
    for index, account in enumerate(config.imap.accounts):
        location = ("imap", "accounts", index, "password")
        refs.append((f"imap.{account.name}.password", location, account.password))
    for index, signing in enumerate(config.portal.keys):
        refs.append((f"portal.keys.{index}", ("portal", "keys", index), signing))
    if config.portal.captcha is not None:
        location = ("portal", "captcha", "secret")
        refs.append(("portal.captcha.secret", location, config.portal.captcha.secret))
    for key, location, ref in refs:
        if ref is None:
            continue
        try:
            found[key] = ref.resolve()
        except ValueError as exc:
            problems.append(f"{path}:{line_of(document, location)}: {key}: {exc}")
    return found


def check_mail(config: GatewayConfig, path: Path, document: Any) -> list[str]:
    """Mailbox names and addresses are unique, no mailbox shares an integration's name
    (both name the source whose parser reads a record), IMAP accounts name a mailbox."""

    problems = []
    names = {item.name for item in config.integrations}
    addresses: set[str] = set()
    for index, mailbox in enumerate(config.mailboxes):
        if mailbox.name in names:
            line = line_of(document, ("mailboxes", index, "name"))
            problems.append(f"{path}:{line}: mailboxes.{mailbox.name}: the name is used twice")
        if mailbox.address.lower() in addresses:
            line = line_of(document, ("mailboxes", index, "address"))
            problems.append(
                f"{path}:{line}: mailboxes.{mailbox.name}.address: "
                f"'{mailbox.address}' is listed twice"
            )
        names.add(mailbox.name)
        addresses.add(mailbox.address.lower())
    email_sinks = {sink.name for sink in config.sinks if sink.kind == "email"}
    for index, mailbox in enumerate(config.mailboxes):
        if mailbox.acknowledge is not None and mailbox.acknowledge.sink not in email_sinks:
            line = line_of(document, ("mailboxes", index, "acknowledge", "sink"))
            problems.append(
                f"{path}:{line}: mailboxes.{mailbox.name}.acknowledge.sink: "
                f"'{mailbox.acknowledge.sink}' is not an email sink in sinks"
            )
    notifying: list[tuple[tuple[int | str, ...], str, RequesterNotifyConfig | None]] = [
        (
            ("mailboxes", index, "notify", "sink"),
            f"mailboxes.{mailbox.name}.notify.sink",
            mailbox.notify,
        )
        for index, mailbox in enumerate(config.mailboxes)
    ]
    if config.portal.enabled:
        where: tuple[int | str, ...] = ("portal", "form", "notify", "sink")
        notifying.append((where, "portal.form.notify.sink", config.portal.form.notify))
    for place, label, notify in notifying:
        if notify is not None and notify.sink not in email_sinks:
            problems.append(
                f"{path}:{line_of(document, place)}: {label}: "
                f"'{notify.sink}' is not an email sink in sinks"
            )
    portal_answer = config.portal.form.acknowledge
    if config.portal.enabled and portal_answer and portal_answer.sink not in email_sinks:
        line = line_of(document, ("portal", "form", "acknowledge", "sink"))
        problems.append(
            f"{path}:{line}: portal.form.acknowledge.sink: "
            f"'{portal_answer.sink}' is not an email sink in sinks"
        )
    mailbox_names = {mailbox.name for mailbox in config.mailboxes}
    for index, account in enumerate(config.imap.accounts):
        if account.mailbox not in mailbox_names:
            line = line_of(document, ("imap", "accounts", index, "mailbox"))
            problems.append(
                f"{path}:{line}: imap.accounts.{account.name}.mailbox: "
                f"'{account.mailbox}' is not in mailboxes"
            )
    if config.smtp.enabled and not config.mailboxes:
        line = line_of(document, ("smtp", "enabled"))
        problems.append(f"{path}:{line}: smtp: enabled, but no mailboxes are configured")
    return problems


def check_sinks(config: GatewayConfig, path: Path, document: Any) -> list[str]:
    """Cross-checks of the sinks section (names, fallbacks, secrets, maps)."""
    index = {sink.name: position for position, sink in enumerate(config.sinks)}
    found = []
    for problem in sink_problems(config.sinks):
        # problems read "sinks.<name>.<field>: message"
        parts = problem.split(":", 1)[0].split(".")
        location: tuple[int | str, ...] = ("sinks",)
        if len(parts) > 1 and parts[1] in index:
            location = ("sinks", index[parts[1]], *parts[2:3])
        found.append(f"{path}:{line_of(document, location)}: {problem}")
    return found


def check_kinds(config: GatewayConfig, path: Path, document: Any) -> list[str]:
    """Parser kinds must exist and their options (integrations', mailboxes') must validate."""
    from parsers.email import EmailParser
    from parsers.registry import PARSERS

    problems: list[tuple[tuple[int | str, ...], str]] = []
    for index, item in enumerate(config.integrations):
        factory = PARSERS.get(item.kind)
        if factory is None:
            known = ", ".join(sorted(PARSERS))
            problems.append(
                (
                    ("integrations", index, "kind"),
                    f"integrations.{item.name}.kind: unknown kind '{item.kind}' (known: {known})",
                )
            )
            continue
        location = ("integrations", index, "options")
        problems.extend(
            _option_problems(factory, item.options, location, f"integrations.{item.name}")
        )
    for index, mailbox in enumerate(config.mailboxes):
        location = ("mailboxes", index, "options")
        problems.extend(
            _option_problems(
                EmailParser.from_options, mailbox.options, location, f"mailboxes.{mailbox.name}"
            )
        )
    return [f"{path}:{line_of(document, where)}: {message}" for where, message in problems]


def _option_problems(
    factory: Callable[[Mapping[str, Any]], object],
    options: Mapping[str, Any],
    location: tuple[int | str, ...],
    label: str,
) -> list[tuple[tuple[int | str, ...], str]]:
    """(location in the document, message) for each problem the factory finds."""
    try:
        factory(options)
    except ValidationError as exc:
        found = []
        for error in exc.errors(include_url=False):
            field = ".".join(str(step) for step in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            found.append(((*location, *error["loc"]), f"{label}.options.{field}: {message}"))
        return found
    except ValueError as exc:
        return [(location, f"{label}.options: {exc}")]
    return []
