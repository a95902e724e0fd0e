"""The errors the pure core raises. The daemon's own errors extend these (gateway/errors.py)."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class ConfigError(GatewayError):
    """Configuration, rules or catalogue do not validate.

    ``problems`` holds one ``file:line: message`` string per problem so that
    ``check-config`` and reload can report all of them at once.
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class ParseError(GatewayError):
    """An intake record cannot be turned into events.

    ``reason`` is a short, stable, machine-readable token (used as a metric
    label and in HTTP 4xx bodies); the message explains it to a person.
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)
