"""The ``intake-gateway`` command: its parser and dispatch (commands.py), the operator
commands that talk to a running daemon through its API (silences, incidents, explain,
with client.py and output.py), and the local ones (audit verify, the starter config)."""

from gateway.cli.commands import main

__all__ = ["main"]
