"""``intake-gateway incidents list|show|ack|resolve|merge`` through the daemon's API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from gateway.cli.client import (
    EXIT_OK,
    Client,
    CommandError,
    add_connection_options,
    default_author,
)
from gateway.cli.output import as_json, cell, fields, key, moment, table

_LIST_COLUMNS = [
    ("KEY", key("key")),
    ("STATUS", key("status")),
    ("PRIORITY", key("priority")),
    ("MAJOR", key("major")),
    ("TYPE", key("type")),
    ("SERVICE", key("service")),
    ("CI", key("ci")),
    ("EVENTS", key("event_count")),
    ("CREATED", moment("created_at")),
    ("TITLE", key("title")),
]
_EVENT_COLUMNS = [
    ("ID", key("id")),
    ("STATUS", key("status")),
    ("SEVERITY", key("severity")),
    ("SOURCE", key("source")),
    ("NAME", key("name")),
    ("RESOURCE", key("resource")),
    ("COUNT", key("count")),
    ("LAST SEEN", moment("last_seen")),
    ("OUTCOME", key("outcome")),
]
_TIMELINE_COLUMNS = [
    ("AT", moment("at")),
    ("KIND", key("kind")),
    ("AUTHOR", key("author")),
    ("TEXT", key("text")),
]
# the incident's own fields, in the order 'show' prints them
_SHOWN = (
    "key", "title", "type", "status", "priority", "impact", "urgency", "major", "service",
    "ci", "environment", "category", "assignment_group", "requester", "event_count",
    "firing_events", "correlation_key", "created_at", "updated_at", "acknowledged_at",
    "resolved_at", "closed_at", "resolve_after",
)  # fmt: skip
_ACTIONS = {"ack": ("acknowledge", "acknowledged"), "resolve": ("resolve", "resolved")}


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    incidents = commands.add_parser("incidents", help="list, show, acknowledge, resolve, merge")
    actions = incidents.add_subparsers(dest="action", required=True)

    listing = actions.add_parser("list", help="incidents, newest first")
    listing.add_argument("--status", help="comma-separated: new,acknowledged,resolved,closed")
    listing.add_argument("--priority", help="comma-separated: P1,P2,P3,P4")
    listing.add_argument("--service", help="only this service")
    listing.add_argument("--type", help="incident, service_request, complaint or change_request")
    major = listing.add_mutually_exclusive_group()
    major.add_argument("--major", dest="major", action="store_const", const="true")
    major.add_argument("--not-major", dest="major", action="store_const", const="false")
    listing.add_argument("--limit", type=int, help="at most this many (API default 50, max 500)")
    listing.add_argument("--before", type=int, help="only incidents with a smaller id (paging)")

    show = actions.add_parser("show", help="one incident with its events and timeline")
    show.add_argument("incident", help="INC-000123 or the numeric id")

    for name, (verb, _) in _ACTIONS.items():
        act = actions.add_parser(name, help=f"{verb} incidents")
        act.add_argument("incidents", nargs="+", help="INC-000123 or numeric ids")
    merge = actions.add_parser("merge", help="close a duplicate into the incident that stays")
    merge.add_argument("incident", help="the duplicate: INC-000123 or the numeric id")
    merge.add_argument("--into", required=True, help="the incident that stays (key or id)")
    for parser in (listing, show, merge, *(actions.choices[name] for name in _ACTIONS)):
        add_connection_options(parser)
    for parser in (merge, *(actions.choices[name] for name in _ACTIONS)):
        parser.add_argument("--comment", "-c", default="", help="put on the timeline and forwarded")
        parser.add_argument(
            "--author", "-a", default=default_author(), help="who (default: your login name)"
        )


def run(args: argparse.Namespace, client: Client) -> int:
    action: str = args.action
    if action == "list":
        return _list(args, client)
    if action == "show":
        return _show(args.incident, client, as_json_output=args.json)
    if action == "merge":
        return _merge(args, client)
    return _act(args, client)


def _list(args: argparse.Namespace, client: Client) -> int:
    query = {
        "status": args.status,
        "priority": args.priority,
        "service": args.service,
        "type": args.type,
        "major": args.major,
        "limit": None if args.limit is None else str(args.limit),
        "before": None if args.before is None else str(args.before),
    }
    answer = client.get("/api/v1/incidents", query)
    if args.json:
        print(as_json(answer))
        return EXIT_OK
    print(table(answer["items"], _LIST_COLUMNS))
    if answer.get("next_before") is not None:
        print(f"more: --before {answer['next_before']}", file=sys.stderr)
    return EXIT_OK


def _show(ident: str, client: Client, *, as_json_output: bool) -> int:
    incident = client.get(f"/api/v1/incidents/{_ident(ident)}")
    if as_json_output:
        print(as_json(incident))
        return EXIT_OK
    print(fields(_summary(incident)))
    print(f"\nevents ({len(incident['events'])})")
    print(table(incident["events"], _EVENT_COLUMNS))
    print(f"\ntimeline ({len(incident['timeline'])})")
    print(table(incident["timeline"], _TIMELINE_COLUMNS))
    return EXIT_OK


def _summary(incident: Mapping[str, Any]) -> list[tuple[str, object]]:
    sla = incident.get("sla") or {}
    refs = [
        f"{ref['sink']}:{ref.get('ticket_id') or '-'}" for ref in incident.get("external_refs", [])
    ]
    pairs: list[tuple[str, object]] = [(name, incident.get(name)) for name in _SHOWN]
    pairs += [
        ("response_due", _due(sla, "response")),
        ("resolution_due", _due(sla, "resolution")),
        ("external_refs", refs),
    ]
    return pairs


def _due(sla: Mapping[str, Any], which: str) -> str:
    due = cell(sla.get(f"{which}_due"))
    return f"{due} (breached)" if sla.get(f"{which}_breached") else due


def _act(args: argparse.Namespace, client: Client) -> int:
    verb, done = _ACTIONS[args.action]
    status = EXIT_OK
    changed = []
    for ident in args.incidents:
        body = {"author": args.author, "comment": args.comment}
        try:
            incident = client.post(f"/api/v1/incidents/{_ident(ident)}/{verb}", body)
        except CommandError as exc:
            print(f"intake-gateway: {ident}: {exc}", file=sys.stderr)
            status = max(status, exc.code)
            continue
        changed.append(incident)
        if not args.json:
            print(f"{incident['key']} {done}")
    if args.json:
        print(as_json({"items": changed}))
    return status


def _merge(args: argparse.Namespace, client: Client) -> int:
    """One duplicate into its survivor; a refusal is the daemon's answer (exit 1)."""
    body = {"into": args.into.strip(), "author": args.author, "comment": args.comment}
    incident = client.post(f"/api/v1/incidents/{_ident(args.incident)}/merge", body)
    done = f"{incident['key']} merged into {incident['merged_into']}"
    print(as_json(incident) if args.json else done)
    return EXIT_OK


def _ident(text: str) -> str:
    """A key or id as the path takes it; the API reads and refuses anything else."""
    from urllib.parse import quote

    return quote(text.strip(), safe="")
