"""``intake-gateway explain FILE``: what the gateway would make of a mail or a webhook
payload, nothing stored.

By default the running daemon explains it (POST /api/v1/explain): its config, its
rules and what it has stored (open incidents, silences, counts). ``--local`` reads
the config file instead and judges against an empty scratch database: the rules as
written, with no history.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gateway.cli.client import (
    EXIT_OK,
    EXIT_USAGE,
    Client,
    CommandError,
    add_connection_options,
)
from gateway.cli.output import as_json, fields, key, table

_MEDIA_BY_SUFFIX = {
    ".eml": "message/rfc822",
    ".msg": "message/rfc822",
    ".mail": "message/rfc822",
    ".json": "application/json",
}
_CHARSET_COLUMNS = [
    ("PART", key("part")),
    ("DECLARED", key("declared")),
    ("VALID AS DECLARED", key("declared_fits")),
    ("NEEDS", key("needs")),
    ("DETECTED", key("detected")),
    ("READ AS", key("decoded_as")),
]


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    explain = commands.add_parser(
        "explain", help="a dry run of a mail or payload through the parsers and rules"
    )
    explain.add_argument("file", help="a raw mail (.eml) or a webhook body (.json); - for stdin")
    explain.add_argument(
        "--integration", "-i", help="the integration or mailbox it is for (default: guessed)"
    )
    explain.add_argument("--mail-from", help="a mail's envelope sender (SMTP MAIL FROM)")
    explain.add_argument(
        "--content-type", help="the payload's media type (default: from the file name)"
    )
    explain.add_argument(
        "--local",
        action="store_true",
        help="judge with the rules of --config against an empty scratch database, without a daemon",
    )
    add_connection_options(explain)


def run(args: argparse.Namespace, client: Client) -> int:
    raw = _read(args.file)
    media = args.content_type or media_type(args.file, raw)
    if args.local:
        answer = _local(args, raw, media)
    else:
        query = {"integration": args.integration, "mail_from": args.mail_from}
        answer = client.call("POST", "/api/v1/explain", raw, query=query, content_type=media)
    print(as_json(answer) if args.json else render(answer))
    return EXIT_OK


def media_type(name: str, raw: bytes) -> str:
    """From the file name, else from the first bytes: JSON, a mail's header, or a form."""
    found = _MEDIA_BY_SUFFIX.get(Path(name).suffix.lower())
    if found:
        return found
    head = raw.lstrip()[:1]
    if head in (b"{", b"["):
        return "application/json"
    first_line = raw.split(b"\n", 1)[0]
    name_part, colon, _ = first_line.partition(b":")
    if colon and name_part and b" " not in name_part.strip():
        return "message/rfc822"
    return "application/x-www-form-urlencoded"


def _read(name: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise CommandError(f"{name}: cannot read: {exc}", EXIT_USAGE) from None


def _local(args: argparse.Namespace, raw: bytes, media: str) -> dict[str, Any]:
    import asyncio

    from gateway.cli.local import explain_locally

    return asyncio.run(explain_locally(args.config, raw, args.integration, media, args.mail_from))


def render(answer: Mapping[str, Any]) -> str:
    lines = [
        f"{answer['integration']} ({answer['kind']}), rules {answer['rules_version']}, "
        f"at {answer['at']}; nothing stored"
    ]
    charsets = answer.get("charsets")
    if charsets:
        lines += ["", "charset", table(charsets, _CHARSET_COLUMNS)]
        lines += [f"  {item['part']}: {item['verdict']}" for item in charsets]
    events: Sequence[Mapping[str, Any]] = answer["events"]
    if not events:
        lines += ["", "no events: the parser found nothing to act on"]
    for number, item in enumerate(events, 1):
        lines += ["", _event_line(number, item["event"]), _decision(item["decision"])]
    return "\n".join(lines)


def _event_line(number: int, event: Mapping[str, Any]) -> str:
    summary = " ".join(str(event["summary"]).split())
    return (
        f"event {number}: {event['kind']} {event['name']!r} on {event['resource'] or '-'}, "
        f"{event['severity']}, {event['status']}: {summary}"
    )


def _decision(decision: Mapping[str, Any]) -> str:
    rules = [
        f"{rule['name']} ({rule['where']})" if rule["where"] else rule["name"]
        for rule in decision["matched_rules"]
    ]
    incident = decision.get("incident_key")
    action = decision["action"] + (f" {incident}" if incident else "")
    if decision.get("incident_of_event"):
        action += f" (the incident event {decision['incident_of_event']} opens)"
    if decision.get("resolve_after"):
        action += f", resolving at {decision['resolve_after']} unless it fires again"
    sla = decision.get("sla") or {}
    pairs: list[tuple[str, object]] = [
        ("fingerprint", decision["fingerprint"]),
        ("correlation key", decision["correlation_key"]),
        ("outcome", f"{decision['outcome']}, incident: {action}"),
        ("rules", rules or "none matched (defaults)"),
        ("suppressed by", decision["suppressed_by"] or None),
        ("priority", _priority(decision)),
        ("type", decision["type"]),
        ("service / ci", f"{decision['service'] or '-'} / {decision['ci'] or '-'}"),
        ("assignment group", decision["assignment_group"] or None),
        ("routes", _routes(decision)),
        ("sla", _sla(sla)),
        ("title", decision["title"]),
    ]
    pairs += [("note", f"{note['kind']}: {note['text']}") for note in decision["notes"]]
    pairs += [("rule error", error) for error in decision["rule_errors"]]
    return "\n".join(f"  {line}" for line in fields(pairs).splitlines())


def _routes(decision: Mapping[str, Any]) -> str:
    routes = ", ".join(decision["routes"]) or "none"
    if decision["action"] in ("open", "none"):
        return routes
    return f"{routes} (the incident's sinks: they are sent the change, if any)"


def _priority(decision: Mapping[str, Any]) -> str:
    major = ", major" if decision["major"] else ""
    scale = f"impact {decision['impact']}, urgency {decision['urgency']}"
    return f"{decision['priority']} ({scale}{major})"


def _sla(sla: Mapping[str, Any]) -> str | None:
    if not sla or not (sla.get("response_due") or sla.get("resolution_due")):
        return None
    response, resolution = sla.get("response_due") or "-", sla.get("resolution_due") or "-"
    return f"response by {response}, resolution by {resolution}"
