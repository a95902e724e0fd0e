"""What a parser is, and helpers every parser kind shares."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from gateway.errors import ParseError
from parsers.records import Event, IntakeRecord


class Parser(Protocol):
    """Turns one intake record into events. Must be pure and thread-safe."""

    def parse(self, record: IntakeRecord) -> list[Event]: ...


# Builds a parser from the integration's ``options`` mapping in config.
# Raises ValueError (with a message for the admin) on bad options.
ParserFactory = Callable[[Mapping[str, Any]], Parser]


def decode_json(raw: bytes) -> Any:
    """Decode a JSON body or raise ParseError(reason="invalid_json")."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ParseError("invalid_json", f"body is not valid JSON: {exc}") from exc


def require_object(value: Any, what: str = "body") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError("wrong_shape", f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def as_text(value: Any, limit: int = 4096) -> str:
    """A scalar as a bounded string; containers become compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = str(value)
    else:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text[:limit]


def flat_labels(value: Any, *, max_labels: int = 128, max_len: int = 1024) -> dict[str, str]:
    """A JSON object as string labels, bounded in count and length."""
    if not isinstance(value, dict):
        return {}
    labels: dict[str, str] = {}
    for key, item in value.items():
        if len(labels) >= max_labels:
            break
        labels[str(key)[:max_len]] = as_text(item, max_len)
    return labels


def parse_timestamp(value: Any) -> datetime | None:
    """ISO 8601 text or epoch seconds/milliseconds; None when absent or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None
