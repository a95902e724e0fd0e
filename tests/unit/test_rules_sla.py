"""Service-hour calendars, SLA due times, near-breach and breach escalations."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.records import Severity
from rules.calendars import AlwaysOpen, Calendar, WorkingHours
from rules.decision import IncidentAction, Priority, SlaDue, State
from rules.sla import SlaClock
from tests.unit.rules_support import NOW, event, incident, ruleset, stored

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = WorkingHours(
    name="office",
    zone=BERLIN,
    hours={day: ((time(8), time(17)),) for day in range(5)},
    holidays=frozenset({date(2025, 3, 5)}),
)
SPLIT = WorkingHours(
    name="split",
    zone=BERLIN,
    hours={0: ((time(8), time(12)), (time(13), time(17)))},
    holidays=frozenset(),
)


def berlin(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("calendar", "start", "duration", "due"),
    [
        (OFFICE, berlin(2025, 3, 3, 10), timedelta(hours=4), berlin(2025, 3, 3, 14)),
        (OFFICE, berlin(2025, 3, 7, 16), timedelta(hours=4), berlin(2025, 3, 10, 11)),  # weekend
        (OFFICE, berlin(2025, 3, 4, 16), timedelta(hours=2), berlin(2025, 3, 6, 9)),  # holiday
        (OFFICE, berlin(2025, 3, 8, 12), timedelta(hours=1), berlin(2025, 3, 10, 9)),  # Saturday
        (OFFICE, berlin(2025, 3, 3, 6), timedelta(minutes=30), berlin(2025, 3, 3, 8, 30)),
        (OFFICE, berlin(2025, 3, 3, 17), timedelta(hours=1), berlin(2025, 3, 4, 9)),
        (OFFICE, berlin(2025, 3, 28, 16), timedelta(hours=2), berlin(2025, 3, 31, 9)),  # DST
        (OFFICE, berlin(2025, 3, 3, 10), timedelta(0), berlin(2025, 3, 3, 10)),
        (SPLIT, berlin(2025, 3, 3, 11, 30), timedelta(hours=1), berlin(2025, 3, 3, 13, 30)),
        (AlwaysOpen(), NOW, timedelta(hours=30), NOW + timedelta(hours=30)),
    ],
)
def test_calendar_add(
    calendar: Calendar, start: datetime, duration: timedelta, due: datetime
) -> None:
    assert calendar.add(start, duration) == due


def test_dst_interval_is_counted_in_real_time() -> None:
    due = OFFICE.add(berlin(2025, 3, 31, 8), timedelta(hours=1))
    assert due.astimezone(UTC) == datetime(2025, 3, 31, 7, tzinfo=UTC)


SLA = """
calendars:
  - name: office
    timezone: Europe/Berlin
    hours: {mon-fri: "08:00-17:00"}
sla:
  near_breach: 0.75
  targets:
    - {priority: P1, response: 15m, resolution: 4h}
    - {priority: P2, response: 30m, resolution: 8h}
    - {priority: P4, calendar: office, response: 4h, resolution: 2d}
    - {priority: P4, service: vip, response: 1h}
  on_near_breach: {routes: [chat]}
  on_breach: {routes: [chat, mail], raise_priority: P2, assignment_group: duty-managers}
"""


@pytest.mark.parametrize(
    ("severity", "labels", "due"),
    [
        (
            Severity.CRITICAL,
            {},
            SlaDue(NOW + timedelta(minutes=15), NOW + timedelta(hours=4), "24x7"),
        ),
        (  # NOW is 10:00 in Berlin: 4 office hours, then 48 office hours
            Severity.LOW,
            {},
            SlaDue(berlin(2025, 3, 3, 14), berlin(2025, 3, 10, 13), "office"),
        ),
        (Severity.LOW, {"service": "vip"}, SlaDue(NOW + timedelta(hours=1), None, "24x7")),
        (Severity.MEDIUM, {}, None),  # no target for P3
    ],
)
def test_due_times_on_open(
    tmp_path: Path, severity: Severity, labels: dict[str, str], due: SlaDue | None
) -> None:
    rules = SLA + "rules:\n  - {name: s, description: d, set: {service: '{labels.service}'}}\n"
    decision = ruleset(tmp_path, rules).evaluate(
        event(severity=severity, labels=labels), State(), NOW
    )
    assert decision.action is IncidentAction.OPEN
    assert decision.sla == due


def test_raised_priority_recomputes_due_times_from_creation(tmp_path: Path) -> None:
    created = NOW - timedelta(minutes=10)
    state = State(event=stored(), incident=incident(priority=Priority.P2, created_at=created))
    raised = ruleset(tmp_path, SLA).evaluate(event(severity=Severity.CRITICAL), state, NOW)
    assert raised.action is IncidentAction.UPDATE
    assert raised.sla == SlaDue(
        created + timedelta(minutes=15), created + timedelta(hours=4), "24x7"
    )
    same = ruleset(tmp_path, SLA).evaluate(event(severity=Severity.HIGH), state, NOW)
    assert same.sla is None


def test_no_sla_section_means_no_due_times(tmp_path: Path) -> None:
    assert ruleset(tmp_path).evaluate(event(), State(), NOW).sla is None


def clock(responded: bool = False, escalated: frozenset[str] = frozenset()) -> SlaClock:
    return SlaClock(
        incident_id=9,
        priority=Priority.P1,
        service="",
        opened_at=NOW,
        response_due=NOW + timedelta(minutes=15),
        resolution_due=NOW + timedelta(hours=4),
        responded=responded,
        escalated=escalated,
    )


@pytest.mark.parametrize(
    ("after", "sla_clock", "expected"),
    [
        (timedelta(minutes=10), clock(), []),
        (timedelta(minutes=12), clock(), ["response:near_breach"]),
        (timedelta(minutes=16), clock(), ["response:breach"]),
        (timedelta(minutes=16), clock(escalated=frozenset({"response:breach"})), []),
        (timedelta(minutes=16), clock(responded=True), []),
        (timedelta(hours=3), clock(responded=True), ["resolution:near_breach"]),
        (timedelta(hours=5), clock(), ["response:breach", "resolution:breach"]),
    ],
)
def test_escalations(
    tmp_path: Path, after: timedelta, sla_clock: SlaClock, expected: list[str]
) -> None:
    found = ruleset(tmp_path, SLA).escalations(sla_clock, NOW + after)
    assert [escalation.key for escalation in found] == expected


def test_escalation_actions_and_note(tmp_path: Path) -> None:
    (breach,) = ruleset(tmp_path, SLA).escalations(clock(responded=True), NOW + timedelta(hours=5))
    assert breach.action.routes == ("chat", "mail")
    assert breach.action.raise_priority is Priority.P2
    assert breach.action.assignment_group == "duty-managers"
    assert breach.note.kind == "escalation"
    assert breach.note.data["level"] == "breach"
    assert breach.incident_id == 9


def test_no_escalation_without_a_target(tmp_path: Path) -> None:
    assert ruleset(tmp_path).escalations(clock(), NOW + timedelta(days=1)) == []
