"""The domain's error hierarchy. Protocol codes are chosen only at the edge."""

from __future__ import annotations

from parsers.errors import ConfigError as ConfigError
from parsers.errors import GatewayError as GatewayError
from parsers.errors import ParseError as ParseError


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
