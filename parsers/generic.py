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
from collections.abc import Mapping
from typing import Any

import jmespath
import jmespath.exceptions
from jmespath.parser import ParsedResult
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.errors import ParseError
from parsers.base import as_text, decode_json, flat_labels, parse_timestamp
from parsers.records import Event, EventStatus, IntakeRecord, Severity

_SEVERITY_WORDS: Mapping[str, Severity] = {
    "critical": Severity.CRITICAL,
    "crit": Severity.CRITICAL,
    "fatal": Severity.CRITICAL,
    "disaster": Severity.CRITICAL,
    "emergency": Severity.CRITICAL,
    "p1": Severity.CRITICAL,
    "high": Severity.HIGH,
    "error": Severity.HIGH,
    "major": Severity.HIGH,
    "p2": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "warning": Severity.MEDIUM,
    "warn": Severity.MEDIUM,
    "average": Severity.MEDIUM,
    "p3": Severity.MEDIUM,
    "low": Severity.LOW,
    "minor": Severity.LOW,
    "p4": Severity.LOW,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "information": Severity.INFO,
    "notice": Severity.INFO,
    "debug": Severity.INFO,
    "ok": Severity.INFO,
    "none": Severity.INFO,
}

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


def _compile(expression: str) -> ParsedResult:
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError(f"invalid JMESPath expression {expression!r}: {exc}") from exc


class GenericOptions(BaseModel):
    """Options of a ``kind: generic`` integration (all JMESPath expressions)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
    severity_map: dict[str, Severity] = Field(
        default_factory=dict, description="source value -> critical/high/medium/low/info"
    )
    status_map: dict[str, EventStatus] = Field(
        default_factory=dict, description="source value -> firing/resolved"
    )
    default_severity: Severity = Severity.MEDIUM
    max_events: int = Field(default=10_000, ge=1, description="alerts accepted per payload")

    @field_validator(
        "events", "resource", "name", "severity", "status", "summary", "description",
        "service", "environment", "labels", "url", "occurred_at",
    )
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


class GenericParser:
    def __init__(self, options: GenericOptions) -> None:
        self._options = options
        self._events = _compile(options.events) if options.events else None
        self._paths = {
            name: _compile(getattr(options, name))
            for name in (
                "resource", "name", "severity", "status", "summary", "description",
                "service", "environment", "labels", "url", "occurred_at",
            )
        }
        self._fingerprint = tuple(_compile(p) for p in options.fingerprint)
        self._severity_map = {k.lower(): v for k, v in options.severity_map.items()}
        self._status_map = {k.lower(): v for k, v in options.status_map.items()}

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> GenericParser:
        return cls(GenericOptions.model_validate(dict(options)))

    def parse(self, record: IntakeRecord) -> list[Event]:
        body = decode_json(record.raw)
        items: list[Any]
        if self._events is not None:
            found = self._events.search(body)
            if not isinstance(found, list):
                raise ParseError(
                    "wrong_shape", f"'{self._options.events}' must select a list of alerts"
                )
            items = found
        else:
            items = [body]
        if len(items) > self._options.max_events:
            raise ParseError(
                "too_many_alerts",
                f"payload holds {len(items)} alerts, the limit is {self._options.max_events}",
            )
        return [self._event(item, index, record) for index, item in enumerate(items)]

    def _get(self, name: str, item: Any) -> Any:
        try:
            return self._paths[name].search(item)
        except jmespath.exceptions.JMESPathError:
            return None

    def _event(self, item: Any, index: int, record: IntakeRecord) -> Event:
        if not isinstance(item, dict):
            raise ParseError("wrong_shape", f"alert #{index} must be a JSON object")
        name = as_text(self._get("name", item), 512)
        resource = as_text(self._get("resource", item), 512)
        if not name and not resource:
            raise ParseError(
                "missing_field",
                f"alert #{index}: neither '{self._options.name}' nor "
                f"'{self._options.resource}' is present",
            )
        labels = flat_labels(self._get("labels", item))
        raw_severity = as_text(self._get("severity", item), 64)
        if raw_severity:
            labels["original_severity"] = raw_severity
        summary = as_text(self._get("summary", item), 1024) or name or resource
        return Event(
            source=record.source,
            kind="generic",
            name=name or resource,
            resource=resource,
            severity=self._severity(raw_severity),
            status=self._status(as_text(self._get("status", item), 64)),
            summary=summary,
            description=as_text(self._get("description", item), 65536),
            service=as_text(self._get("service", item), 256),
            environment=as_text(self._get("environment", item), 64),
            occurred_at=parse_timestamp(self._get("occurred_at", item)) or record.received_at,
            labels=labels,
            url=as_text(self._get("url", item), 2048),
            fingerprint=self._fingerprint_of(item),
        )

    def _severity(self, raw: str) -> Severity:
        key = raw.strip().lower()
        if not key:
            return self._options.default_severity
        return (
            self._severity_map.get(key)
            or _SEVERITY_WORDS.get(key)
            or self._options.default_severity
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
            digest.update(as_text(path.search(item)).encode("utf-8", "surrogatepass"))
        return digest.hexdigest()[:32]

