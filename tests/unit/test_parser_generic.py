"""The generic JSON parser: JMESPath options, defaults and bad input."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from core.errors import ParseError
from core.records import Channel, Event, EventStatus, IntakeRecord, Severity
from parsers.generic import GenericOptions, GenericParser

RECEIVED_AT = datetime(2024, 5, 3, 12, 0, tzinfo=UTC)


def record_of(raw: bytes) -> IntakeRecord:
    return IntakeRecord(
        id=7,
        channel=Channel.HTTP,
        source="portal",
        kind="generic",
        received_at=RECEIVED_AT,
        raw=raw,
        meta={"content_type": "application/json"},
    )


def parse(body: Any, options: Mapping[str, Any] | None = None) -> list[Event]:
    parser = GenericParser.from_options(options or {})
    return parser.parse(record_of(json.dumps(body).encode()))


def parse_one(body: Any, options: Mapping[str, Any] | None = None) -> Event:
    events = parse(body, options)
    assert len(events) == 1
    return events[0]


def test_default_paths_read_a_flat_alert() -> None:
    event = parse_one(
        {
            "name": "Disk full",
            "resource": "files01",
            "severity": "Critical",
            "status": "open",
            "summary": "/srv at 99%",
            "description": "Volume /srv has 1% left.",
            "service": "file-shares",
            "environment": "prod",
            "labels": {"team": "storage", "retries": 3},
            "url": "https://portal.example.org/alerts/1",
            "timestamp": "2024-05-03T10:00:00.123456789Z",
        }
    )
    assert (event.source, event.kind, event.name, event.resource) == (
        "portal",
        "generic",
        "Disk full",
        "files01",
    )
    assert (event.severity, event.status) == (Severity.CRITICAL, EventStatus.FIRING)
    assert (event.summary, event.description) == ("/srv at 99%", "Volume /srv has 1% left.")
    assert (event.service, event.environment) == ("file-shares", "prod")
    assert event.labels == {"team": "storage", "retries": "3", "original_severity": "Critical"}
    assert event.url == "https://portal.example.org/alerts/1"
    assert event.occurred_at == datetime(2024, 5, 3, 10, 0, 0, 123456, tzinfo=UTC)
    assert event.fingerprint == ""


def test_missing_texts_fall_back_to_name_resource_and_receipt_time() -> None:
    event = parse_one({"resource": "web01"})
    assert (event.name, event.summary) == ("web01", "web01")
    assert event.severity is Severity.MEDIUM
    assert "original_severity" not in event.labels
    assert event.occurred_at == RECEIVED_AT


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (1714730400, datetime(2024, 5, 3, 10, 0, tzinfo=UTC)),
        (1714730400000, datetime(2024, 5, 3, 10, 0, tzinfo=UTC)),
        ("2024-05-03T12:00:00+02:00", datetime(2024, 5, 3, 10, 0, tzinfo=UTC)),
        ("2024-05-03 10:00:00", datetime(2024, 5, 3, 10, 0, tzinfo=UTC)),
        ("next tuesday", RECEIVED_AT),
        (True, RECEIVED_AT),
    ],
)
def test_timestamps_in_iso_or_epoch_else_receipt_time(timestamp: Any, expected: datetime) -> None:
    assert parse_one({"name": "n", "timestamp": timestamp}).occurred_at == expected


def test_events_path_gives_one_event_per_item() -> None:
    body = {"data": {"alerts": [{"name": "a"}, {"name": "b"}]}}
    events = parse(body, {"events": "data.alerts"})
    assert [event.name for event in events] == ["a", "b"]


def test_custom_paths_and_maps() -> None:
    options = {
        "events": "items",
        "name": "check.title",
        "resource": "host",
        "severity": "level",
        "status": "state",
        "severity_map": {"SEV1": "critical"},
        "status_map": {"Cleared": "resolved"},
    }
    body = {
        "items": [{"check": {"title": "ping"}, "host": "h1", "level": "sev1", "state": "CLEARED"}]
    }
    event = parse_one(body, options)
    assert (event.name, event.resource) == ("ping", "h1")
    assert (event.severity, event.status) == (Severity.CRITICAL, EventStatus.RESOLVED)


@pytest.mark.parametrize(
    ("raw", "severity"),
    [("warning", Severity.MEDIUM), ("P2", Severity.HIGH), ("info", Severity.INFO)],
)
def test_common_severity_words(raw: str, severity: Severity) -> None:
    assert parse_one({"name": "n", "severity": raw}).severity is severity


def test_unknown_severity_and_status_are_accepted() -> None:
    event = parse_one({"name": "n", "severity": "purple", "status": "wobbly"})
    assert (event.severity, event.status) == (Severity.MEDIUM, EventStatus.FIRING)
    assert event.labels["original_severity"] == "purple"
    low = parse_one({"name": "n", "severity": "purple"}, {"default_severity": "low"})
    assert low.severity is Severity.LOW


def test_fingerprint_depends_on_the_chosen_values_only() -> None:
    options = {"fingerprint": ["host", "check"]}
    first = parse_one({"name": "n", "host": "h", "check": "c", "noise": 1}, options)
    again = parse_one({"check": "c", "host": "h", "name": "n", "noise": 2}, options)
    other = parse_one({"name": "n", "host": "h2", "check": "c"}, options)
    assert first.fingerprint == again.fingerprint != other.fingerprint
    assert len(first.fingerprint) == 32


@pytest.mark.parametrize(
    ("raw", "options", "reason", "message"),
    [
        (b"", {}, "invalid_json", "body is empty"),
        (b"{not json", {}, "invalid_json", "not valid JSON"),
        (b'{"data": {}}', {"events": "data.alerts"}, "wrong_shape",
         "data.alerts: expected an array of alerts, got null"),
        (b'{"alerts": [{"name": "a"}, 5]}', {"events": "alerts"}, "wrong_shape",
         "alerts[1]: expected an object, got number"),
        (b"[1, 2]", {}, "wrong_shape", "body: expected an object, got array"),
        (b'{"severity": "high"}', {}, "missing_field", "neither 'name' nor 'resource'"),
        (b'{"alerts": [{"name": "a"}, {"name": "b"}]}', {"events": "alerts", "max_events": 1},
         "too_many_alerts", "holds 2 alerts, the limit is 1"),
    ],
)  # fmt: skip
def test_bad_input_is_rejected(
    raw: bytes, options: Mapping[str, Any], reason: str, message: str
) -> None:
    with pytest.raises(ParseError) as caught:
        GenericParser.from_options(options).parse(record_of(raw))
    assert caught.value.reason == reason
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": "a[?"}, "invalid JMESPath expression"),
        ({"fingerprint": ["ok", "a[?"]}, "invalid JMESPath expression"),
        ({"nmae": "title"}, "nmae"),
        ({"severity_map": {"x": "urgent"}}, "severity_map"),
        ({"max_events": 0}, "max_events"),
    ],
)
def test_bad_options_are_errors(options: Mapping[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GenericParser.from_options(options)


def test_every_option_has_a_default_and_a_description() -> None:
    for name, field in GenericOptions.model_fields.items():
        assert not field.is_required(), name
        assert field.description, name
