"""``intake-gateway silence add|query|expire|import``: silences through the daemon's API.

Matchers are written as amtool writes them: ``name=value``, ``name!=value``,
``name=~regex``, ``name!~regex``; a name is an event field (``resource``,
``service``, ``severity``...), ``labels.X`` or a bare label name.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from gateway.cli.client import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    Client,
    CommandError,
    add_connection_options,
    default_author,
)
from gateway.cli.output import as_json, key, moment, table

_MATCHER = re.compile(r"^\s*([^=!~\s]+)\s*(=~|!~|!=|=)(.*)$", re.DOTALL)
_DURATION = re.compile(r"(\d+)([wdhms])")
_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
# what a silence in the API's create body holds; an exported silence has more
_BODY_KEYS = ("matchers", "starts_at", "ends_at", "author", "comment")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    silence = commands.add_parser("silence", help="add, list, expire and import silences")
    actions = silence.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", help="silence the events the matchers select")
    add.add_argument("matchers", nargs="+", help="name=value, name!=value, name=~re, name!~re")
    add.add_argument("--duration", "-d", default="1h", help="how long, e.g. 90m, 2h, 1d (1h)")
    add.add_argument("--end", help="when it ends, RFC 3339 (e.g. 2026-12-24T18:00:00Z)")
    add.add_argument("--start", help="when it starts, RFC 3339 (default: now)")
    add.add_argument("--comment", "-c", required=True, help="why (required)")
    add.add_argument(
        "--author", "-a", default=default_author(), help="who (default: your login name)"
    )

    query = actions.add_parser("query", help="list silences, newest first")
    query.add_argument("matchers", nargs="*", help="only silences with each of these matchers")
    query.add_argument("--expired", action="store_true", help="expired silences instead")
    query.add_argument("--quiet", "-q", action="store_true", help="print the ids only")

    expire = actions.add_parser("expire", help="end silences now")
    expire.add_argument("ids", nargs="+", type=int, help="silence ids")

    load = actions.add_parser("import", help="create the silences of a JSON file")
    load.add_argument(
        "file", help="a JSON list of silences, or the output of 'silence query --json'"
    )
    for parser in (add, query, expire, load):
        add_connection_options(parser)


def run(args: argparse.Namespace, client: Client) -> int:
    action: str = args.action
    if action == "add":
        return _add(args, client)
    if action == "query":
        return _query(args, client)
    if action == "expire":
        return _expire(args.ids, client, as_json_output=args.json)
    return _import(Path(args.file), client, as_json_output=args.json)


def parse_matcher(text: str) -> dict[str, str]:
    found = _MATCHER.match(text)
    if found is None:
        raise CommandError(
            f"matcher {text!r}: write name=value, name!=value, name=~regex or name!~regex",
            EXIT_USAGE,
        )
    name, op, value = found.groups()
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    if "~" in op:
        try:
            re.compile(value)
        except re.error as exc:
            message = f"matcher {text!r}: not a regular expression: {exc}"
            raise CommandError(message, EXIT_USAGE) from None
    return {"name": name, "op": op, "value": value}


def parse_duration(text: str) -> timedelta:
    compact = text.strip().lower()
    parts = _DURATION.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise CommandError(f"--duration {text!r}: write e.g. 30m, 2h, 1h30m, 1d, 1w", EXIT_USAGE)
    seconds = sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    if seconds <= 0:
        raise CommandError("--duration must be longer than zero", EXIT_USAGE)
    return timedelta(seconds=seconds)


def parse_time(text: str, option: str) -> datetime:
    """RFC 3339; a time without a zone is read as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(
            f"{option} {text!r}: not an RFC 3339 time such as 2026-12-24T18:00:00Z", EXIT_USAGE
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _add(args: argparse.Namespace, client: Client) -> int:
    matchers = [parse_matcher(text) for text in args.matchers]
    start = parse_time(args.start, "--start") if args.start else None
    end = (
        parse_time(args.end, "--end")
        if args.end
        else (start or datetime.now(UTC)) + parse_duration(args.duration)
    )
    body: dict[str, Any] = {
        "matchers": matchers,
        "ends_at": _stamp(end),
        "author": args.author,
        "comment": args.comment,
    }
    if start is not None:
        body["starts_at"] = _stamp(start)
    created = client.post("/api/v1/silences", body)
    print(as_json(created) if args.json else created["id"])
    return EXIT_OK


def matchers_text(silence: Mapping[str, Any]) -> str:
    return " ".join(
        f"{item['name']}{item['op']}{_quoted(item['value'])}" for item in silence["matchers"]
    )


def _quoted(value: str) -> str:
    return f'"{value}"' if not value or any(char.isspace() for char in value) else value


def _query(args: argparse.Namespace, client: Client) -> int:
    wanted = [parse_matcher(text) for text in args.matchers]
    answer = client.get("/api/v1/silences", {"include_expired": "true" if args.expired else None})
    items = [
        item
        for item in answer["items"]
        if (item["state"] == "expired") == args.expired
        and all(matcher in item["matchers"] for matcher in wanted)
    ]
    if args.json:
        print(as_json({"items": items}))
    elif args.quiet:
        for item in items:
            print(item["id"])
    else:
        columns = [
            ("ID", key("id")),
            ("MATCHERS", matchers_text),
            ("STARTS AT", moment("starts_at")),
            ("ENDS AT", moment("ends_at")),
            ("STATE", key("state")),
            ("AUTHOR", key("author")),
            ("COMMENT", key("comment")),
        ]
        print(table(items, columns))
    return EXIT_OK


def _expire(ids: list[int], client: Client, *, as_json_output: bool) -> int:
    status = EXIT_OK
    expired = []
    for silence_id in ids:
        try:
            expired.append(client.call("DELETE", f"/api/v1/silences/{silence_id}"))
        except CommandError as exc:
            print(f"intake-gateway: silence {silence_id}: {exc}", file=sys.stderr)
            status = max(status, exc.code)
            continue
        if not as_json_output:
            print(f"expired {silence_id}")
    if as_json_output:
        print(as_json({"items": expired}))
    return status


def _import(path: Path, client: Client, *, as_json_output: bool) -> int:
    silences = _read_silences(path)
    now = datetime.now(UTC)
    status = EXIT_OK
    results: list[dict[str, Any]] = []
    for index, item in enumerate(silences):
        if parse_time(str(item.get("ends_at", "")), f"{path}: item {index}: ends_at") <= now:
            results.append({"item": index, "result": "skipped: already ended"})
            continue
        body = {name: item[name] for name in _BODY_KEYS if name in item}
        try:
            created = client.post("/api/v1/silences", body)
        except CommandError as exc:
            results.append({"item": index, "result": f"refused: {exc}"})
            status = max(status, exc.code)
            continue
        results.append({"item": index, "result": "created", "id": created["id"]})
    if as_json_output:
        print(as_json({"items": results}))
    else:
        columns = [("ITEM", key("item")), ("ID", key("id")), ("RESULT", key("result"))]
        print(table(results, columns))
    return status


def _read_silences(path: Path) -> list[dict[str, Any]]:
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise CommandError(f"{path}: cannot read: {exc}", EXIT_USAGE) from None
    except orjson.JSONDecodeError as exc:
        raise CommandError(f"{path}: not JSON: {exc}", EXIT_USAGE) from None
    if isinstance(document, dict) and isinstance(document.get("items"), list):
        document = document["items"]
    if not isinstance(document, list) or not all(isinstance(item, dict) for item in document):
        raise CommandError(
            f"{path}: expected a JSON list of silences or an object with 'items'", EXIT_USAGE
        )
    if not document:
        raise CommandError(f"{path}: holds no silences", EXIT_REFUSED)
    return document
