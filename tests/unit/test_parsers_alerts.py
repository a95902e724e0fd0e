"""Monitoring parsers (alertmanager, grafana, zabbix, nagios): golden files and bad input.

Each payload under ``tests/fixtures/alerts/<kind>/`` (``.json``, or ``.form`` /
``.txt`` for form posts, with the integration's options in an optional
``<name>.options.json``) must produce exactly the events serialised in
``<name>.expected.json``. After a deliberate change of behaviour regenerate
them and review the diff::

    UPDATE_GOLDEN=1 python -m pytest tests/unit/test_parsers_alerts.py
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from core.errors import ParseError
from core.records import Channel, Event, EventStatus, IntakeRecord, Severity
from parsers.alertmanager import AlertmanagerOptions, AlertmanagerParser
from parsers.base import Parser
from parsers.grafana import GrafanaOptions, GrafanaParser
from parsers.nagios import NagiosOptions, NagiosParser
from parsers.zabbix import ZabbixOptions, ZabbixParser

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "alerts"
RECEIVED_AT = datetime(2024, 5, 3, 12, 0, tzinfo=UTC)
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = {".json": JSON, ".form": FORM, ".txt": FORM}
SIDE_FILES = (".expected.json", ".options.json")

FACTORIES: Mapping[str, Callable[[Mapping[str, Any]], Parser]] = {
    "alertmanager": AlertmanagerParser.from_options,
    "grafana": GrafanaParser.from_options,
    "zabbix": ZabbixParser.from_options,
    "nagios": NagiosParser.from_options,
}
OPTION_MODELS: Mapping[str, type[BaseModel]] = {
    "alertmanager": AlertmanagerOptions,
    "grafana": GrafanaOptions,
    "zabbix": ZabbixOptions,
    "nagios": NagiosOptions,
}


def make_record(kind: str, raw: bytes | str, content_type: str = JSON) -> IntakeRecord:
    return IntakeRecord(
        id=1,
        channel=Channel.HTTP,
        source=f"{kind}-test",
        kind=kind,
        received_at=RECEIVED_AT,
        raw=raw.encode() if isinstance(raw, str) else raw,
        meta={"content_type": content_type},
    )


def parse(kind: str, body: Any, options: Mapping[str, Any] | None = None) -> list[Event]:
    """Parse a JSON-serialisable body with the kind's parser."""
    return FACTORIES[kind](options or {}).parse(make_record(kind, json.dumps(body)))


def parse_one(kind: str, body: Any, options: Mapping[str, Any] | None = None) -> Event:
    events = parse(kind, body, options)
    assert len(events) == 1
    return events[0]


def parse_error(kind: str, raw: bytes | str, content_type: str = JSON) -> ParseError:
    with pytest.raises(ParseError) as caught:
        FACTORIES[kind]({}).parse(make_record(kind, raw, content_type))
    return caught.value


# --- golden files -----------------------------------------------------------------


def payload_files() -> list[Path]:
    return sorted(
        path
        for path in FIXTURES.glob("*/*")
        if path.suffix in CONTENT_TYPES and not path.name.endswith(SIDE_FILES)
    )


def side_file(payload: Path, suffix: str) -> Path:
    return payload.with_name(payload.name.removesuffix(payload.suffix) + suffix)


def events_as_json(events: list[Event]) -> str:
    """Events serialised deterministically: sorted keys, ISO 8601 times."""

    def encode(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(f"cannot serialise {type(value).__name__}")

    rows = [dataclasses.asdict(event) for event in events]
    return json.dumps(rows, default=encode, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize(
    "payload", payload_files(), ids=lambda path: f"{path.parent.name}/{path.name}"
)
def test_fixture_gives_its_golden_events(payload: Path) -> None:
    kind = payload.parent.name
    options_file = side_file(payload, ".options.json")
    options = json.loads(options_file.read_text()) if options_file.exists() else {}
    record = make_record(kind, payload.read_bytes(), CONTENT_TYPES[payload.suffix])
    actual = events_as_json(FACTORIES[kind](options).parse(record))
    expected_file = side_file(payload, ".expected.json")
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected_file.write_text(actual)
        return
    assert expected_file.exists(), f"no {expected_file.name}: run with UPDATE_GOLDEN=1 and review"
    assert actual == expected_file.read_text()


def test_every_kind_has_fixtures_and_no_golden_file_is_orphaned() -> None:
    payloads = payload_files()
    assert {path.parent.name for path in payloads} == set(FACTORIES)
    for side in (*FIXTURES.glob("*/*.expected.json"), *FIXTURES.glob("*/*.options.json")):
        stem = side.name.removesuffix(".expected.json").removesuffix(".options.json")
        assert any(side.with_name(stem + suffix).exists() for suffix in CONTENT_TYPES), side


# --- bad input ----------------------------------------------------------------------

ALERT = {"status": "firing", "labels": {"alertname": "A"}}
ZABBIX = {"event_id": "1", "event_value": "1", "host_name": "h", "trigger_name": "T"}

# One row a case: (kind, case, body, reason, part of the message). A bytes body
# is posted as it is; anything else is serialised to JSON first.
# fmt: off
BAD_INPUT: list[tuple[str, str, Any, str, str]] = [
    ("alertmanager", "invalid JSON", b'{"alerts": [', "invalid_json", "not valid JSON"),
    ("alertmanager", "empty body", b"", "invalid_json", "body is empty"),
    ("alertmanager", "array body", [ALERT], "wrong_shape",
     "body must be a JSON object, got array"),
    ("alertmanager", "no alerts", {"version": "4"}, "missing_field", "alerts: required"),
    ("alertmanager", "alerts an object", {"alerts": ALERT}, "wrong_shape",
     "alerts: expected an array, got object"),
    ("alertmanager", "alert a string", {"alerts": ["x"]}, "wrong_shape",
     "alerts[0] must be a JSON object, got string"),
    ("alertmanager", "no labels", {"alerts": [{"status": "firing"}]}, "missing_field",
     "alerts[0].labels: required"),
    ("alertmanager", "labels a list", {"alerts": [{**ALERT, "labels": ["a"]}]}, "wrong_type",
     "alerts[0].labels: expected an object, got array"),
    ("alertmanager", "label value an object",
     {"alerts": [{**ALERT, "labels": {"alertname": {"x": 1}}}]}, "wrong_type",
     "alerts[0].labels.alertname: expected a string, got object"),
    ("alertmanager", "annotations a string", {"alerts": [{**ALERT, "annotations": "x"}]},
     "wrong_type", "alerts[0].annotations: expected an object, got string"),
    ("alertmanager", "startsAt a number", {"alerts": [{**ALERT, "startsAt": 1714724130}]},
     "wrong_type", "alerts[0].startsAt: expected an RFC 3339 time string, got number 1714724130"),
    ("alertmanager", "startsAt not a time", {"alerts": [{**ALERT, "startsAt": "yesterday"}]},
     "wrong_type", "alerts[0].startsAt: expected an RFC 3339 time"),
    ("alertmanager", "status a number", {"alerts": [{**ALERT, "status": 7}]}, "wrong_type",
     "alerts[0].status: expected 'firing' or 'resolved', got number 7"),
    ("alertmanager", "status unknown", {"alerts": [{**ALERT, "status": "pending"}]},
     "wrong_type", "got string 'pending'"),
    ("alertmanager", "no status anywhere", {"alerts": [{"labels": {"alertname": "A"}}]},
     "missing_field", "alerts[0].status: required"),
    ("alertmanager", "fingerprint a number", {"alerts": [{**ALERT, "fingerprint": 12}]},
     "wrong_type", "alerts[0].fingerprint: expected a string"),
    ("alertmanager", "truncatedAlerts a string", {"truncatedAlerts": "3", "alerts": []},
     "wrong_type", "truncatedAlerts: expected a whole number"),
    ("alertmanager", "version 3", {"version": "3", "alerts": []}, "unsupported_version",
     "payload version '4', got string '3'"),
    ("grafana", "invalid JSON", b"{'state': 'ok'}", "invalid_json", "not valid JSON"),
    ("grafana", "empty body", b"  \n", "invalid_json", "body is empty"),
    ("grafana", "array body", [], "wrong_shape", "got array"),
    ("grafana", "unknown shape", {"hello": "world"}, "wrong_shape", "neither a Grafana"),
    ("grafana", "alerts a string", {"alerts": "none"}, "wrong_shape", "alerts: expected an array"),
    ("grafana", "alert an array", {"alerts": [[]]}, "wrong_shape", "alerts[0] must be"),
    ("grafana", "unified version 2", {"version": "2", "alerts": []}, "unsupported_version",
     "payload version '1'"),
    ("grafana", "legacy without state", {"ruleName": "R"}, "missing_field", "state: required"),
    ("grafana", "legacy state unknown", {"ruleName": "R", "state": "exploded"}, "wrong_type",
     "state: expected one of 'alerting'"),
    ("grafana", "legacy state a number", {"ruleName": "R", "state": 1}, "wrong_type",
     "state: expected a string, got number 1"),
    ("grafana", "legacy without name", {"ruleId": 1, "state": "alerting"}, "missing_field",
     "ruleName: required"),
    ("grafana", "legacy tags a list", {"ruleName": "R", "state": "ok", "tags": ["a"]},
     "wrong_type", "tags: expected an object, got array"),
    ("grafana", "legacy evalMatches an object",
     {"ruleName": "R", "state": "alerting", "evalMatches": {}}, "wrong_type",
     "evalMatches: expected an array"),
    ("grafana", "legacy evalMatch a number",
     {"ruleName": "R", "state": "alerting", "evalMatches": [1]}, "wrong_type",
     "evalMatches[0]: expected an object"),
    ("zabbix", "invalid JSON", b"event_id=1", "invalid_json", "not valid JSON"),
    ("zabbix", "empty body", b"", "invalid_json", "body is empty"),
    ("zabbix", "array body", [ZABBIX], "wrong_shape", "got array"),
    ("zabbix", "no event id", {"event_value": "1", "host_name": "h"}, "missing_field",
     "event_id: required"),
    ("zabbix", "event id an unexpanded macro", {**ZABBIX, "event_id": "{EVENT.ID}"},
     "missing_field", "event_id: required"),
    ("zabbix", "event id an object", {**ZABBIX, "event_id": {"id": 1}}, "wrong_type",
     "event_id: expected a string, got object"),
    ("zabbix", "event value 2", {**ZABBIX, "event_value": "2"}, "wrong_type",
     "event_value: expected '1' (problem) or '0' (recovery)"),
    ("zabbix", "update status yes", {**ZABBIX, "event_update_status": "yes"}, "wrong_type",
     "event_update_status: expected '0' or '1'"),
    ("zabbix", "tags broken JSON", {**ZABBIX, "event_tags": '[{"tag": "a",'}, "wrong_type",
     "event_tags: expected a JSON array"),
    ("zabbix", "tags an object", {**ZABBIX, "event_tags": {"a": "b"}}, "wrong_type",
     "event_tags: expected an array of {tag, value} objects"),
    ("zabbix", "tag a string", {**ZABBIX, "event_tags": ["a:b"]}, "wrong_type",
     "event_tags[0]: expected an object"),
    ("zabbix", "tag without name", {**ZABBIX, "event_tags": [{"value": "b"}]}, "missing_field",
     "event_tags[0].tag: required"),
    ("zabbix", "date in another format",
     {**ZABBIX, "event_date": "03/05/2024", "event_time": "10:00:00"}, "wrong_type",
     "event_date, event_time: expected Zabbix's 'YYYY.MM.DD'"),
    ("nagios", "invalid JSON", b'{"HOSTNAME": "web01"', "invalid_json", "not valid JSON"),
    ("nagios", "array body", [{"HOSTNAME": "web01"}], "wrong_shape", "got array"),
    ("nagios", "no host", {"SERVICESTATE": "CRITICAL"}, "missing_field", "HOSTNAME: required"),
    ("nagios", "no state or type", {"HOSTNAME": "web01", "SERVICEDESC": "HTTP"},
     "missing_field", "SERVICESTATE: required"),
    ("nagios", "host a list", {"HOSTNAME": ["web01"]}, "wrong_type",
     "HOSTNAME: expected a string, got array"),
    ("nagios", "TIMET not a number", {"HOSTNAME": "h", "HOSTSTATE": "DOWN", "TIMET": "soon"},
     "wrong_type", "TIMET: expected epoch seconds, got string 'soon'"),
    ("nagios", "LONGDATETIME unreadable",
     {"HOSTNAME": "h", "HOSTSTATE": "DOWN", "LONGDATETIME": "03.05.2024 10:00"}, "wrong_type",
     "LONGDATETIME: expected '2024-05-03 10:00:00 +0200'"),
]
# fmt: on


@pytest.mark.parametrize(
    ("kind", "body", "reason", "message"),
    [
        pytest.param(kind, body, reason, message, id=f"{kind}: {case}")
        for kind, case, body, reason, message in BAD_INPUT
    ],
)
def test_bad_input_is_rejected_with_reason_and_precise_message(
    kind: str, body: Any, reason: str, message: str
) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    error = parse_error(kind, raw)
    assert error.reason == reason
    assert message in str(error)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(b"", "body is empty", id="empty body"),
        pytest.param(b"HOSTNAME=web\xff01&HOSTSTATE=DOWN", "not UTF-8 text", id="raw byte"),
        pytest.param(b"HOSTNAME=web%FF01&HOSTSTATE=DOWN", "percent-encoded", id="percent byte"),
        pytest.param(
            b"&".join(b"F%d=x" % n for n in range(1001)),
            "more than 1000 fields",
            id="too many fields",
        ),
    ],
)
def test_bad_form_is_rejected_as_invalid_form(raw: bytes, message: str) -> None:
    error = parse_error("nagios", raw, FORM)
    assert error.reason == "invalid_form"
    assert message in str(error)


def test_too_many_alerts_in_one_group_is_rejected() -> None:
    body = {"alerts": [ALERT] * 3}
    with pytest.raises(ParseError) as caught:
        parse("alertmanager", body, {"max_alerts": 2})
    assert caught.value.reason == "too_many_alerts"
    assert "3 alerts" in str(caught.value)
    assert len(parse("alertmanager", body, {"max_alerts": 3})) == 3


# --- alertmanager and grafana unified -------------------------------------------------


@pytest.mark.parametrize("kind", ["alertmanager", "grafana"])
def test_unknown_severity_gets_the_default_and_keeps_the_original(kind: str) -> None:
    alert = {**ALERT, "labels": {"alertname": "A", "severity": "Sev-Zero"}}
    event = parse_one(kind, {"alerts": [alert]})
    assert event.severity is Severity.MEDIUM
    assert event.labels["original_severity"] == "Sev-Zero"
    assert parse_one(kind, {"alerts": [alert]}, {"default_severity": "high"}).severity is (
        Severity.HIGH
    )


def test_missing_severity_gets_the_default_without_an_original_label() -> None:
    event = parse_one("alertmanager", {"alerts": [ALERT]})
    assert event.severity is Severity.MEDIUM
    assert "original_severity" not in event.labels


@pytest.mark.parametrize("kind", ["alertmanager", "grafana"])
def test_huge_label_set_is_bounded_and_flagged_not_rejected(kind: str) -> None:
    labels = {f"label_{n:05}": "x" for n in range(20_000)}
    labels.update({"alertname": "Flood", "severity": "critical", "zz_instance": "ignored"})
    labels["instance"] = "node9"
    event = parse_one(kind, {"alerts": [{**ALERT, "labels": labels}]})
    assert event.labels["labels_truncated"] == "true"
    source_labels = set(event.labels) - {"labels_truncated", "original_severity"}
    assert len(source_labels) == 128
    # The labels the parser reads survive, whatever the flood.
    assert (event.name, event.resource, event.severity) == ("Flood", "node9", Severity.CRITICAL)


def test_long_label_values_are_cut_and_flagged() -> None:
    alert = {**ALERT, "labels": {"alertname": "A", "query": "q" * 5000}}
    event = parse_one("alertmanager", {"alerts": [alert]}, {"max_label_length": 100})
    assert event.labels["query"] == "q" * 100
    assert event.labels["labels_truncated"] == "true"


def test_alert_without_alertname_is_still_an_event() -> None:
    event = parse_one("alertmanager", {"alerts": [{"status": "firing", "labels": {}}]})
    assert event.name == "unnamed alert"
    assert event.summary == "unnamed alert"


def test_group_status_stands_in_for_a_missing_alert_status() -> None:
    body = {"status": "resolved", "alerts": [{"labels": {"alertname": "A"}}]}
    assert parse_one("alertmanager", body).status is EventStatus.RESOLVED


def test_resolved_alert_occurs_at_its_end_and_zero_times_mean_unset() -> None:
    ended = {
        **ALERT,
        "status": "resolved",
        "startsAt": "2024-05-03T08:00:00Z",
        "endsAt": "2024-05-03T09:30:00.123456789Z",
    }
    unset = {**ended, "endsAt": "0001-01-01T00:00:00Z"}
    events = parse("alertmanager", {"alerts": [ended, unset]})
    assert events[0].status is EventStatus.RESOLVED
    assert events[0].occurred_at == datetime(2024, 5, 3, 9, 30, 0, 123456, tzinfo=UTC)
    assert events[1].occurred_at == RECEIVED_AT


def test_truncated_alerts_are_recorded_on_every_event() -> None:
    events = parse("alertmanager", {"truncatedAlerts": 5, "alerts": [ALERT, ALERT]})
    assert [event.labels["truncated_alerts"] for event in events] == ["5", "5"]
    assert "truncated_alerts" not in parse_one("alertmanager", {"alerts": [ALERT]}).labels


def test_version_may_be_absent_or_a_number() -> None:
    assert len(parse("alertmanager", {"alerts": [ALERT]})) == 1
    assert len(parse("alertmanager", {"version": 4, "alerts": [ALERT]})) == 1


def test_empty_group_gives_no_events() -> None:
    assert parse("alertmanager", {"version": "4", "status": "resolved", "alerts": []}) == []


# --- grafana legacy ---------------------------------------------------------------------


def test_legacy_ok_resolves_what_alerting_opened() -> None:
    alerting = parse_one("grafana", {"ruleId": 9, "orgId": 3, "ruleName": "R", "state": "alerting"})
    ok = parse_one("grafana", {"ruleId": 9, "orgId": 3, "ruleName": "R", "state": "ok"})
    assert (alerting.status, ok.status) == (EventStatus.FIRING, EventStatus.RESOLVED)
    assert alerting.fingerprint == ok.fingerprint == "grafana:3:9"


@pytest.mark.parametrize("state", ["paused", "pending", "PAUSED"])
def test_legacy_paused_and_pending_give_no_event(state: str) -> None:
    assert parse("grafana", {"ruleId": 9, "ruleName": "R", "state": state}) == []


def test_legacy_resource_comes_from_the_first_match_tags_without_rule_tags() -> None:
    body = {
        "ruleName": "R",
        "state": "alerting",
        "evalMatches": [{"metric": "m", "tags": None}, {"metric": "m", "tags": {"host": "b1"}}],
    }
    assert parse_one("grafana", body).resource == "b1"


# --- zabbix -------------------------------------------------------------------------------


def read_fixture(kind: str, name: str) -> Any:
    return json.loads((FIXTURES / kind / name).read_text())


def test_zabbix_recovery_resolves_the_problem_it_recovers() -> None:
    problem = parse_one("zabbix", read_fixture("zabbix", "problem.json"))
    recovery = parse_one("zabbix", read_fixture("zabbix", "recovery.json"))
    assert (problem.status, recovery.status) == (EventStatus.FIRING, EventStatus.RESOLVED)
    assert problem.fingerprint == recovery.fingerprint == "zabbix:23871:sw-core-01"
    options = {"fingerprint_by": "event"}
    assert (
        parse_one("zabbix", read_fixture("zabbix", "problem.json"), options).fingerprint
        == parse_one("zabbix", read_fixture("zabbix", "recovery.json"), options).fingerprint
        == "zabbix:event:98231"
    )


def test_zabbix_update_fires_with_an_update_label() -> None:
    event = parse_one("zabbix", {**ZABBIX, "event_value": "1", "event_update_status": "1"})
    assert event.status is EventStatus.FIRING
    assert event.labels["zabbix_update"] == "true"


@pytest.mark.parametrize(
    ("number", "severity"),
    [
        ("0", Severity.INFO),
        ("1", Severity.INFO),
        ("2", Severity.LOW),
        ("3", Severity.MEDIUM),
        ("4", Severity.HIGH),
        ("5", Severity.CRITICAL),
    ],
)
def test_zabbix_numeric_severity_follows_zabbix_order(number: str, severity: Severity) -> None:
    event = parse_one("zabbix", {**ZABBIX, "event_nseverity": number})
    assert event.severity is severity
    assert event.labels["original_severity"] == number


def test_zabbix_unknown_severity_name_without_number_gets_the_default() -> None:
    event = parse_one("zabbix", {**ZABBIX, "event_severity": "Catastrophic"})
    assert event.severity is Severity.MEDIUM
    assert event.labels["original_severity"] == "Catastrophic"


def test_zabbix_severity_map_adds_renamed_severities() -> None:
    body = {**ZABBIX, "event_severity": "Catastrophic", "event_nseverity": "3"}
    assert parse_one("zabbix", body).severity is Severity.MEDIUM
    mapped = parse_one("zabbix", body, {"severity_map": {"catastrophic": "critical"}})
    assert mapped.severity is Severity.CRITICAL


def test_zabbix_without_event_value_is_a_recovery_only_with_recovery_data() -> None:
    body = {key: value for key, value in ZABBIX.items() if key != "event_value"}
    assert parse_one("zabbix", body).status is EventStatus.FIRING
    recovered = {**body, "event_recovery_id": "5", "event_recovery_date": "{EVENT.RECOVERY.DATE}"}
    assert parse_one("zabbix", recovered).status is EventStatus.RESOLVED


def test_zabbix_many_tags_are_bounded_and_flagged() -> None:
    tags = [{"tag": f"t{n}", "value": "v"} for n in range(300)]
    event = parse_one("zabbix", {**ZABBIX, "event_tags": tags})
    assert event.labels["labels_truncated"] == "true"
    assert len([name for name in event.labels if name.startswith("t")]) == 128


def test_zabbix_dates_are_read_in_the_configured_zone() -> None:
    body = {**ZABBIX, "event_date": "2024.01.15", "event_time": "09:00:00"}
    assert parse_one("zabbix", body).occurred_at == datetime(2024, 1, 15, 9, tzinfo=UTC)
    in_tokyo = parse_one("zabbix", body, {"timezone": "Asia/Tokyo"})
    assert in_tokyo.occurred_at == datetime(2024, 1, 15, 0, tzinfo=UTC)


# --- nagios -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "state", "severity", "status"),
    [
        ("HTTP", "CRITICAL", Severity.CRITICAL, EventStatus.FIRING),
        ("HTTP", "WARNING", Severity.MEDIUM, EventStatus.FIRING),
        ("HTTP", "UNKNOWN", Severity.HIGH, EventStatus.FIRING),
        ("HTTP", "OK", Severity.INFO, EventStatus.RESOLVED),
        ("HTTP", "PENDING", Severity.MEDIUM, EventStatus.FIRING),
        ("", "DOWN", Severity.CRITICAL, EventStatus.FIRING),
        ("", "UNREACHABLE", Severity.HIGH, EventStatus.FIRING),
        ("", "UP", Severity.INFO, EventStatus.RESOLVED),
    ],
)
def test_nagios_state_sets_severity_and_status(
    service: str, state: str, severity: Severity, status: EventStatus
) -> None:
    check = "service" if service else "host"
    body = {"host_name": "h", "service_description": service, f"{check}_state": state}
    event = parse_one("nagios", body)
    assert (event.severity, event.status) == (severity, status)
    assert event.labels["original_severity"] == state
    assert event.fingerprint == f"nagios:h:{service or 'HOST'}"


def test_nagios_recovery_resolves_the_problem_across_field_styles() -> None:
    problem = FACTORIES["nagios"]({}).parse(
        make_record("nagios", (FIXTURES / "nagios" / "service_problem.form").read_bytes(), FORM)
    )[0]
    recovery = parse_one("nagios", read_fixture("nagios", "service_recovery.json"))
    assert (problem.status, recovery.status) == (EventStatus.FIRING, EventStatus.RESOLVED)
    assert problem.fingerprint == recovery.fingerprint == "nagios:web01:HTTPS"


def test_nagios_recovery_type_resolves_without_a_state() -> None:
    event = parse_one("nagios", {"HOSTNAME": "h", "NOTIFICATIONTYPE": "RECOVERY"})
    assert event.status is EventStatus.RESOLVED


def test_nagios_acknowledgement_fires_and_is_flagged() -> None:
    body = {
        "HOSTNAME": "h",
        "SERVICEDESC": "s",
        "SERVICESTATE": "CRITICAL",
        "NOTIFICATIONTYPE": "ACKNOWLEDGEMENT",
    }
    event = parse_one("nagios", body)
    assert event.status is EventStatus.FIRING
    assert event.labels["acknowledged"] == "true"


def test_nagios_unknown_notification_type_is_kept() -> None:
    body = {"HOSTNAME": "h", "HOSTSTATE": "DOWN", "NOTIFICATIONTYPE": "DOWNTIMEREMOVED"}
    assert parse_one("nagios", body).labels["notification_type"] == "downtimeremoved"


def test_nagios_json_posted_as_a_form_is_read_as_json() -> None:
    # curl -d '{...}' sends JSON labelled application/x-www-form-urlencoded.
    record = make_record("nagios", '{"HOSTNAME": "h", "HOSTSTATE": "DOWN"}', FORM)
    assert FACTORIES["nagios"]({}).parse(record)[0].resource == "h"


def test_nagios_form_keeps_the_first_of_repeated_fields_and_stray_percent_signs() -> None:
    raw = "HOSTNAME=h1&HOSTNAME=h2&HOSTSTATE=DOWN&HOSTOUTPUT=disk 95% full"
    event = FACTORIES["nagios"]({}).parse(make_record("nagios", raw, FORM))[0]
    assert event.resource == "h1"
    assert event.description == "disk 95% full"


@pytest.mark.parametrize(
    ("long_date_time", "options", "expected"),
    [
        ("2024-05-03 10:00:00 +0200", {}, datetime(2024, 5, 3, 8, tzinfo=UTC)),
        ("2024-05-03T10:00:00Z", {}, datetime(2024, 5, 3, 10, tzinfo=UTC)),
        (
            "Fri May 3 10:00:00 GMT 2024",
            {"timezone": "America/Chicago"},
            datetime(2024, 5, 3, 10, tzinfo=UTC),
        ),
        (
            "Fri May  3 10:00:00 CDT 2024",
            {"timezone": "America/Chicago"},
            datetime(2024, 5, 3, 15, tzinfo=UTC),
        ),
    ],
)
def test_nagios_long_date_time_formats(
    long_date_time: str, options: Mapping[str, Any], expected: datetime
) -> None:
    body = {"HOSTNAME": "h", "HOSTSTATE": "DOWN", "LONGDATETIME": long_date_time}
    assert parse_one("nagios", body, options).occurred_at == expected


# --- options and purity -------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_options_all_have_defaults_and_descriptions(kind: str) -> None:
    FACTORIES[kind]({})
    for name, field in OPTION_MODELS[kind].model_fields.items():
        assert not field.is_required(), f"{kind}.{name} has no default"
        assert field.description, f"{kind}.{name} has no description"


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_unknown_option_is_an_error(kind: str) -> None:
    with pytest.raises(ValueError, match="severity_mapp"):
        FACTORIES[kind]({"severity_mapp": {}})


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("zabbix", {"timezone": "Mars/Olympus"}, "unknown time zone"),
        ("nagios", {"timezone": "CEST"}, "unknown time zone"),
        ("zabbix", {"aliases": {"eventid": ["id"]}}, r"unknown field\(s\) eventid"),
        ("alertmanager", {"severity_map": {"p0": "urgent"}}, "severity_map"),
        ("grafana", {"max_labels": 0}, "max_labels"),
    ],
)
def test_bad_option_values_are_errors(kind: str, options: Mapping[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FACTORIES[kind](options)


@pytest.mark.parametrize("payload", payload_files()[:8], ids=lambda path: path.name)
def test_one_parser_serves_many_threads_alike(payload: Path) -> None:
    kind = payload.parent.name
    options_file = side_file(payload, ".options.json")
    parser = FACTORIES[kind](json.loads(options_file.read_text()) if options_file.exists() else {})
    record = make_record(kind, payload.read_bytes(), CONTENT_TYPES[payload.suffix])
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: parser.parse(record), range(32)))
    assert all(result == results[0] for result in results)
