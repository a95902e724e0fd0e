"""JSON objects as rows of a table: what every CSV the gateway writes shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson


def flat(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted columns; lists as JSON text; booleans as true/false."""
    found: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            found.update(flat(value, f"{name}."))
        elif isinstance(value, list | tuple):
            found[name] = orjson.dumps(value).decode()
        elif isinstance(value, bool):
            found[name] = "true" if value else "false"
        else:
            found[name] = "" if value is None else value
    return found
