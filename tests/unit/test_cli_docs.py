"""docs/cli.md documents every operator command and each of its options."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.cli.commands import _OPERATOR_COMMANDS, _parser

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")


def _children(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _operator_commands() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for name, command in _children(_parser()).items():
        if name in _OPERATOR_COMMANDS:
            for action, parser in _children(command).items() or [("", command)]:
                yield f"{name} {action}".strip(), parser


COMMANDS = list(_operator_commands())


def test_every_operator_command_is_listed() -> None:
    assert {
        "silence add",
        "silence query",
        "silence expire",
        "silence import",
        "incidents list",
        "incidents show",
        "incidents ack",
        "incidents resolve",
        "explain",
    } <= {name for name, _ in COMMANDS}


@pytest.mark.parametrize(("name", "parser"), COMMANDS, ids=[name for name, _ in COMMANDS])
def test_command_and_options_are_documented(name: str, parser: argparse.ArgumentParser) -> None:
    assert f"### {name}" in DOC or f"## {name}" in DOC, f"docs/cli.md has no section for {name}"
    for action in parser._actions:
        for option in action.option_strings:
            if option != "-h" and option != "--help":
                assert f"`{option}" in DOC, f"docs/cli.md does not document {name} {option}"
