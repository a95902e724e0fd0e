"""The email parser as a whole: options, event fields, dates, severity, purity."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from core.records import Severity
from parsers.email import EmailOptions, EmailParser
from tests.unit.test_email_support import RECEIVED_AT, facts, fixture, mail, parse, record


def test_every_option_has_a_default_and_a_description() -> None:
    for name, field in EmailOptions.model_fields.items():
        assert not field.is_required(), name
        assert field.description, name


@pytest.mark.parametrize(
    "options",
    [
        {"unknown_option": 1},
        {"key_prefix": "INC-"},
        {"key_prefix": ""},
        {"key_prefix": "1NC"},
        {"max_parts": 0},
        {"max_depth": 101},  # deeper would reach the interpreter's recursion limit
        {"max_header_bytes": 10},
        {"default_severity": "urgent"},
        {"monitoring_senders": ["nagios"]},
        {"max_date_age_days": 10**9},  # would overflow timedelta at parse time
    ],
)
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        EmailParser.from_options(options)


def test_options_are_frozen() -> None:
    options = EmailOptions()

    with pytest.raises(ValidationError):
        options.max_parts = 5


@pytest.mark.parametrize(
    ("headers", "severity", "original"),
    [
        ([], Severity.MEDIUM, None),
        ([("X-Priority", "1 (Highest)")], Severity.HIGH, "1 (Highest)"),
        ([("X-Priority", "2")], Severity.HIGH, "2"),
        ([("X-Priority", "3 (Normal)")], Severity.MEDIUM, "3 (Normal)"),
        ([("X-Priority", "5 (Lowest)")], Severity.MEDIUM, "5 (Lowest)"),
        ([("Importance", "High")], Severity.HIGH, "High"),
        ([("Importance", "low")], Severity.MEDIUM, "low"),
        ([("Priority", "urgent")], Severity.HIGH, "urgent"),
        ([("X-MSMail-Priority", "High")], Severity.HIGH, "High"),
        ([("X-Priority", "12")], Severity.MEDIUM, "12"),
    ],
)
def test_severity_from_priority_headers(
    headers: list[tuple[str, str]], severity: Severity, original: str | None
) -> None:
    event = parse(mail(headers))

    assert event.severity is severity
    assert event.labels.get("original_severity") == original


def test_the_default_severity_is_an_option() -> None:
    assert parse(mail(), {"default_severity": "low"}).severity is Severity.LOW


@pytest.mark.parametrize(
    ("date", "occurred_at", "defect"),
    [
        ("Fri, 20 Nov 2026 10:00:00 +0800", datetime(2026, 11, 20, 2, 0, tzinfo=UTC), None),
        ("20 Nov 2026 01:00:00 -0000", datetime(2026, 11, 20, 1, 0, tzinfo=UTC), None),
        ("Fri, 20 Nov 2026 02:00:00 GMT", datetime(2026, 11, 20, 2, 0, tzinfo=UTC), None),
        ("Mon, 1 Jan 2001 00:00:00 +0000", RECEIVED_AT, "date_out_of_range"),
        ("Sun, 22 Nov 2026 10:00:00 +0800", RECEIVED_AT, "date_out_of_range"),
        ("not a date", RECEIVED_AT, "date_invalid"),
        # policy.default's Date parser raises OverflowError on this day
        ("99999999999999999999 Nov 2026 10:00:00", RECEIVED_AT, "header_unparseable:date"),
        ("Fri, 20 Nov 2026 10:00:00 +0800" + " x" * 200, RECEIVED_AT, "date_invalid"),
    ],
)
def test_occurred_at_is_the_date_header_when_sane(
    date: str, occurred_at: datetime, defect: str | None
) -> None:
    event = parse(mail([("Date", date)]))

    assert event.occurred_at == occurred_at
    assert event.occurred_at.tzinfo is not None
    if defect:
        assert defect in facts(event).defects


def test_without_a_date_header_the_time_of_receipt_is_used() -> None:
    event = parse(mail())

    assert event.occurred_at == RECEIVED_AT
    assert facts(event).defects == ()


def test_the_date_window_is_an_option() -> None:
    sent = "Fri, 13 Nov 2026 10:00:00 +0800"  # a week before receipt

    assert parse(mail([("Date", sent)])).occurred_at.astimezone(UTC).day == 13
    assert parse(mail([("Date", sent)]), {"max_date_age_days": 2}).occurred_at == RECEIVED_AT


def test_the_event_of_a_new_mail() -> None:
    raw = fixture("reply_key_outlook")

    event = parse(raw)

    assert event.source == "helpdesk"
    assert event.kind == "email"
    assert event.name == "Printer broken"
    assert event.resource == "karl.weber@corp.example"
    assert event.summary == "RE: [INC-000123] Printer broken"
    assert event.occurred_at == datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    assert event.fingerprint == ""  # the rule engine derives one; mails dedup by Message-ID
    assert dict(event.labels) == {"mail_kind": "reply", "charset": "utf-8"}


def test_a_long_subject_is_bounded_in_summary_and_name() -> None:
    event = parse(mail(subject="Printer " * 500))

    assert len(event.summary) == 1024
    assert len(event.name) == 200
    assert len(facts(event).subject) == len("Printer " * 500) - 1


def test_parsing_is_pure_and_repeatable() -> None:
    parser = EmailParser.from_options({})
    raw = fixture("attachments")

    assert parser.parse(record(raw)) == parser.parse(record(raw))


def test_one_parser_serves_many_threads() -> None:
    parser = EmailParser.from_options({})
    names = ["gbk_declared_gb2312", "big5_encoded_words", "nagios_problem", "dsn_bounce"] * 8
    expected = {name: parser.parse(record(fixture(name))) for name in set(names)}

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: (n, parser.parse(record(fixture(n)))), names))

    assert all(events == expected[name] for name, events in results)
