"""Generic JSON: any payload mapped to events by JMESPath expressions in config.

An admin adds a new tool without code::

    integrations:
      - name: portal
        kind: generic
        options:
          events: "alerts"            # optional: a list, one event per item
          resource: "host"
          name: "check"
          severity: "level"
          status: "state"
          summary: "message"
          labels: "tags"
          fingerprint: ["host", "check"]
          severity_map: {crit: critical, warn: medium}
          status_map: {ok: resolved, alarm: firing}

Every option has a default, so ``{"name": ..., "resource": ...}`` posted to a
bare ``kind: generic`` integration already works.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import jmespath
import jmespath.exceptions
from pydantic import Field, field_validator

from core.errors import ParseError
from core.records import Event, EventStatus, IntakeRecord
from parsers.base import (
    DESCRIPTION_LIMIT,
    NAME_LIMIT,
    SEVERITY_WORDS,
    SUMMARY_LIMIT,
    SeverityOptions,
    as_text,
    decode_json,
    flat_labels,
    json_type,
    with_meta_labels,
)
from parsers.times import parse_timestamp

_STATUS_WORDS: Mapping[str, EventStatus] = {
    "firing": EventStatus.FIRING,
    "problem": EventStatus.FIRING,
    "alerting": EventStatus.FIRING,
    "triggered": EventStatus.FIRING,
    "open": EventStatus.FIRING,
    "active": EventStatus.FIRING,
    "resolved": EventStatus.RESOLVED,
    "recovery": EventStatus.RESOLVED,
    "recovered": EventStatus.RESOLVED,
    "ok": EventStatus.RESOLVED,
    "closed": EventStatus.RESOLVED,
    "cleared": EventStatus.RESOLVED,
    "normal": EventStatus.RESOLVED,
}


# The options that are one JMESPath expression each, read per alert.
_PATH_OPTIONS = (
    "resource",
    "name",
    "severity",
    "status",
    "summary",
    "description",
    "service",
    "environment",
    "labels",
    "url",
    "occurred_at",
)


class Path(Protocol):
    def search(self, value: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class _KeyPath:
    """A path that is one plain key: the common case, read without JMESPath's walker."""

    key: str

    def search(self, value: Any) -> Any:
        return value.get(self.key) if isinstance(value, dict) else None


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _compile(expression: str) -> Path:
    try:
        compiled = jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError(f"invalid JMESPath expression {expression!r}: {exc}") from exc
    if _PLAIN_KEY.fullmatch(expression):
        return _KeyPath(expression)
    return compiled


class GenericOptions(SeverityOptions):
    """Options of a ``kind: generic`` integration (paths are JMESPath expressions)."""

    events: str | None = Field(
        default=None, description="path to a list of alert objects; absent: the body is one alert"
    )
    resource: str = Field(default="resource", description="the affected resource or host")
    name: str = Field(default="name", description="the alert or check name")
    severity: str = Field(default="severity", description="the severity value")
    status: str = Field(default="status", description="firing/resolved value")
    summary: str = Field(default="summary", description="one-line summary")
    description: str = Field(default="description", description="longer text")
    service: str = Field(default="service", description="the affected service")
    environment: str = Field(default="environment", description="prod, staging, ...")
    labels: str = Field(default="labels", description="object of labels")
    url: str = Field(default="url", description="link back to the source")
    occurred_at: str = Field(default="timestamp", description="ISO 8601 time or epoch seconds")
    fingerprint: list[str] = Field(
        default_factory=list,
        description="paths whose values identify the alert; empty: rule engine default",
    )
    status_map: dict[str, EventStatus] = Field(
        default_factory=dict, description="source value (any case) -> firing/resolved"
    )
    max_events: int = Field(default=10_000, ge=1, description="alerts accepted per payload")

    @field_validator("events", *_PATH_OPTIONS)
    @classmethod
    def _valid_path(cls, value: str | None) -> str | None:
        if value is not None:
            _compile(value)
        return value

    @field_validator("fingerprint")
    @classmethod
    def _valid_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            _compile(path)
        return value


def _search(expression: Path, item: Any) -> Any:
    """A path's value in an alert; None when the path does not apply to it."""
    try:
        return expression.search(item)
    except jmespath.exceptions.JMESPathError:
        return None


class GenericParser:
    """``kind: generic``: any JSON, read through the paths of ``GenericOptions``."""

    def __init__(self, options: GenericOptions) -> None:
        self._options = options
        self._events = _compile(options.events) if options.events else None
        self._paths = {name: _compile(getattr(options, name)) for name in _PATH_OPTIONS}
        self._fingerprint = tuple(_compile(p) for p in options.fingerprint)
        self._severity = options.severity_scale(SEVERITY_WORDS)
        self._status_map = {k.strip().lower(): v for k, v in options.status_map.items()}

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> GenericParser:
        return cls(GenericOptions.model_validate(dict(options)))

    def parse(self, record: IntakeRecord) -> list[Event]:
        items = self._items(decode_json(record.raw))
        if len(items) > self._options.max_events:
            raise ParseError(
                "too_many_alerts",
                f"payload holds {len(items)} alerts, the limit is {self._options.max_events}",
            )
        return [
            self._event(item, self._item_path(index), record) for index, item in enumerate(items)
        ]

    def _items(self, body: Any) -> list[Any]:
        if self._events is None:
            return [body]
        found = _search(self._events, body)
        if not isinstance(found, list):
            raise ParseError(
                "wrong_shape",
                f"{self._options.events}: expected an array of alerts, got {json_type(found)}",
            )
        return found

    def _item_path(self, index: int) -> str:
        return f"{self._options.events}[{index}]" if self._events is not None else "body"

    def _get(self, name: str, item: Any) -> Any:
        return _search(self._paths[name], item)

    def _event(self, item: Any, path: str, record: IntakeRecord) -> Event:
        if not isinstance(item, dict):
            raise ParseError("wrong_shape", f"{path}: expected an object, got {json_type(item)}")
        name = as_text(self._get("name", item), NAME_LIMIT)
        resource = as_text(self._get("resource", item), NAME_LIMIT)
        if not name and not resource:
            raise ParseError(
                "missing_field",
                f"{path}: neither '{self._options.name}' nor '{self._options.resource}' is present",
            )
        raw_severity = as_text(self._get("severity", item), 64)
        labels = with_meta_labels(
            flat_labels(self._get("labels", item)), raw_severity, truncated=False
        )
        summary = as_text(self._get("summary", item), SUMMARY_LIMIT) or name or resource
        return Event(
            source=record.source,
            kind="generic",
            name=name or resource,
            resource=resource,
            severity=self._severity.of(raw_severity),
            status=self._status(as_text(self._get("status", item), 64)),
            summary=summary,
            description=as_text(self._get("description", item), DESCRIPTION_LIMIT),
            service=as_text(self._get("service", item), 256),
            environment=as_text(self._get("environment", item), 64),
            occurred_at=parse_timestamp(self._get("occurred_at", item)) or record.received_at,
            labels=labels,
            url=as_text(self._get("url", item), 2048),
            fingerprint=self._fingerprint_of(item),
        )

    def _status(self, raw: str) -> EventStatus:
        key = raw.strip().lower()
        return self._status_map.get(key) or _STATUS_WORDS.get(key) or EventStatus.FIRING

    def _fingerprint_of(self, item: Any) -> str:
        if not self._fingerprint:
            return ""
        digest = hashlib.sha256(b"generic")
        for path in self._fingerprint:
            digest.update(b"\x00")
            digest.update(as_text(_search(path, item)).encode("utf-8", "surrogatepass"))
        return digest.hexdigest()[:32]
