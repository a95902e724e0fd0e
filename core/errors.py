"""The domain's error hierarchy, one for every package. Protocol codes are chosen only
at the edge."""

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


class StorageUnavailable(GatewayError):
    """The database cannot be reached or refused the write; callers answer 451/503."""


class DataRejected(GatewayError):
    """The database refused the values of one record (malformed for a column, or
    against a constraint): the same values fail again, others go through. The
    record fails alone; this is not "storage unavailable"."""


class SignatureReplayed(GatewayError):
    """A signed request whose signature was already accepted: the same bytes again."""


class WriteConflict(GatewayError):
    """A concurrent writer (another replica) changed the same rows first: evaluate again."""


class SinkError(GatewayError):
    """A forwarding target failed; ``retryable`` decides between retry and dead letter."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(message)


class ListenRefused(GatewayError):
    """A listener's address cannot be bound (in use, not ours): the daemon cannot start."""
