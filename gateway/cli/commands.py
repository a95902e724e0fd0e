"""``intake-gateway``: run, check-config, test-rules, replay, init, audit verify, and the
operator commands that talk to a running daemon (silence, incidents, explain: gateway/cli/).

Exit status: 0 success, 1 failure of the work asked for (a rule test fails,
a replay cannot run, the daemon refused a request), 2 bad configuration or bad
usage; the operator commands add 3 (daemon unreachable) and 4 (401).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import gateway
from core.errors import ConfigError, ListenRefused
from gateway.config.model import LoadedConfig, config_path, load_config
from gateway.logs import configure_logging

if TYPE_CHECKING:
    from gateway.cli.client import Client
    from gateway.runtime import Runtime

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2

_OPERATOR_COMMANDS = {"silence", "incidents", "explain"}


class OperatorCommands(Protocol):
    """A module of commands that talk to a running daemon."""

    def add_commands(
        self, commands: argparse._SubParsersAction[argparse.ArgumentParser]
    ) -> None: ...

    def run(self, args: argparse.Namespace, client: Client) -> int: ...


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="intake-gateway",
        description="Incident intake gateway: mail, alerts and webhooks in; incidents out.",
    )
    parser.add_argument(
        "--version", action="version", version=f"intake-gateway {gateway.__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    config_help = "config file (default: $INTAKE_GATEWAY_CONFIG or config/gateway.yaml)"

    run = commands.add_parser("run", help="run the daemon")
    run.add_argument("--config", help=config_help)

    check = commands.add_parser("check-config", help="validate config, rules and catalogue")
    check.add_argument("--config", help=config_help)

    test = commands.add_parser("test-rules", help="run rule unit tests (YAML files)")
    test.add_argument("files", nargs="+", help="rule test files")

    replay = commands.add_parser(
        "replay", help="re-run stored intake through the current rules and show what changes"
    )
    replay.add_argument("--config", help=config_help)
    replay.add_argument("--since", help="only intake received at or after this ISO 8601 time")
    replay.add_argument(
        "--dry-run", action="store_true", help="show what would change; write nothing"
    )
    replay.add_argument("--json", action="store_true", help="print JSON instead of a table")

    audit = commands.add_parser("audit", help="the audit log of operator actions and reloads")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify", help="check the hash chain; exit 1 naming the first row that breaks it"
    )
    verify.add_argument("--config", help=config_help)

    from gateway.reports.cli import add_commands as add_report_commands

    add_report_commands(commands, config_help)

    init = commands.add_parser(
        "init", help="write a starter config, rules and catalogue into a directory"
    )
    init.add_argument("directory", help="where to write them, e.g. /etc/intake-gateway")
    init.add_argument(
        "--data-dir",
        help="where the SQLite database goes (default: DIRECTORY/data), "
        "e.g. /var/lib/intake-gateway",
    )
    init.add_argument("--force", action="store_true", help="replace files that exist")
    for module in _operator_commands():
        module.add_commands(commands)

    commands.add_parser(
        "hash-password",
        help="read a password (twice from a terminal, once from a pipe) and print its "
        "argon2 hash for console.people[].password_hash",
    )
    return parser


def _operator_commands() -> tuple[OperatorCommands, ...]:
    from gateway.cli import explain, incidents, silences

    return (silences, incidents, explain)


def _operate(args: argparse.Namespace) -> int:
    """A command against the daemon's API: its module runs it; errors end it here."""
    from gateway.cli.client import Client, CommandError, fail

    module = {"silence": "silences", "incidents": "incidents", "explain": "explain"}[args.command]
    try:
        commands: OperatorCommands = importlib.import_module(f"gateway.cli.{module}")
        return commands.run(args, Client.from_args(args))
    except CommandError as exc:
        return fail(exc)


def _print_problems(error: ConfigError) -> None:
    for problem in error.problems:
        print(problem, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in _OPERATOR_COMMANDS:
        return _operate(args)
    if args.command == "test-rules":
        return _test_rules([Path(name) for name in args.files])
    if args.command == "init":
        return _init(Path(args.directory), args.data_dir, force=args.force)
    if args.command == "hash-password":
        return _hash_password()
    try:
        loaded = load_config(config_path(args.config))
    except ConfigError as exc:
        _print_problems(exc)
        return EXIT_CONFIG
    config = loaded.config
    configure_logging(config.logging.level, config.logging.format)
    if args.command == "audit":
        from gateway.cli.audit import audit_verify

        return audit_verify(loaded)

    from gateway.runtime import compile_runtime

    try:
        runtime = compile_runtime(loaded)
    except ConfigError as exc:
        _print_problems(exc)
        return EXIT_CONFIG
    if args.command == "check-config":
        # Warnings do not fail the check: the rules load and run as written.
        for warning in runtime.ruleset.lint.warnings(datetime.now(UTC)):
            print(warning, file=sys.stderr)
        print(
            f"{loaded.path}: OK ({len(config.integrations)} integrations, "
            f"rules {runtime.ruleset.version})"
        )
        return EXIT_OK
    if args.command == "run":
        return _run(loaded)
    if args.command in ("report", "evidence"):
        from gateway.reports import cli as reports_cli

        if args.command == "evidence":
            return reports_cli.run_evidence(args, runtime)
        return reports_cli.run(args, runtime)
    return _replay(runtime, since=args.since, dry_run=args.dry_run, as_json=args.json)


def _test_rules(files: list[Path]) -> int:
    from gateway.processing.rule_tests import TestReport, is_scenario_file, run_rule_tests
    from gateway.processing.scenarios import run_scenario_files
    from rules.coverage import Coverage
    from rules.loader import load_ruleset

    missing = [path for path in files if not path.is_file()]
    for path in missing:
        print(f"{path}:0: file not found", file=sys.stderr)
    if missing:
        return EXIT_CONFIG
    configure_logging("warning")  # the scenarios' scratch databases are no news
    coverage = Coverage()
    scenario_files = [path for path in files if is_scenario_file(path)]
    case_files = [path for path in files if path not in scenario_files]
    cases = run_rule_tests(case_files, load_ruleset, coverage=coverage)
    scenarios = asyncio.run(run_scenario_files(scenario_files, load_ruleset, coverage))
    report = TestReport(
        cases.passed + scenarios.passed,
        (*cases.failures, *scenarios.failures),
        (*cases.errors, *scenarios.errors),
        tuple(coverage.render()),
    )
    print(report.render())
    return report.exit_status


def _hash_password() -> int:
    import getpass

    from gateway.web.passwords import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("hash-password: the two passwords differ", file=sys.stderr)
            return EXIT_FAILED
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        print("hash-password: a password has at least 8 characters", file=sys.stderr)
        return EXIT_FAILED
    print(hash_password(password))
    return EXIT_OK


def _init(directory: Path, data_dir: str | None, *, force: bool) -> int:
    from gateway.cli.scaffold import ScaffoldError, write_starter

    try:
        starter = write_starter(directory, Path(data_dir) if data_dir else None, force=force)
    except ScaffoldError as exc:
        print(f"init: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for path in starter.written:
        print(f"wrote {path}")
    print(f"next: intake-gateway check-config --config {starter.config}")
    return EXIT_OK


def _replay(runtime: Runtime, *, since: str | None, dry_run: bool, as_json: bool) -> int:
    from gateway.processing.replay import ReplayError, render_json, render_table, replay

    start = None
    if since:
        try:
            start = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            print(f"--since: not an ISO 8601 time: {since!r}", file=sys.stderr)
            return EXIT_CONFIG
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    try:
        report = asyncio.run(replay(runtime, since=start, dry_run=dry_run))
    except ReplayError as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(render_json(report) if as_json else render_table(report))
    return EXIT_OK


def _run(loaded: LoadedConfig) -> int:
    from gateway.daemon import serve

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        run = asyncio.run
    else:
        run = uvloop.run
    try:
        return run(serve(loaded))
    except ConfigError as exc:
        _print_problems(exc)
        return EXIT_CONFIG
    except ListenRefused as exc:
        print(f"intake-gateway: {exc}", file=sys.stderr)
        return EXIT_CONFIG
