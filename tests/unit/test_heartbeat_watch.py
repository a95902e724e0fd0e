"""Heartbeat rules with a fixed clock: what is a heartbeat, when silence raises, what resolves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.records import Event, EventStatus, Severity
from gateway.config.model import IntegrationConfig
from gateway.jobs.heartbeat_watch import (
    Change,
    HeartbeatRule,
    change_due,
    heartbeat_age,
    heartbeat_event,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _rule(**heartbeat: Any) -> HeartbeatRule:
    config = IntegrationConfig.model_validate(
        {"name": "prom", "kind": "alertmanager", "heartbeat": {"timeout": "5m", **heartbeat}}
    )
    rule = HeartbeatRule.from_config(config)
    assert rule is not None
    return rule


def alert(alertname: str, **fields: Any) -> Event:
    """A firing Alertmanager alert of ``alertname``; the heartbeat job tests use it too."""
    return Event(
        source="prom",
        kind="alertmanager",
        name=alertname,
        resource="prometheus:9090",
        severity=Severity.INFO,
        status=EventStatus.FIRING,
        summary=alertname,
        occurred_at=NOW,
        labels={"alertname": alertname},
        **fields,
    )


def test_integration_without_heartbeat_has_no_rule() -> None:
    config = IntegrationConfig.model_validate({"name": "prom", "kind": "alertmanager"})
    assert HeartbeatRule.from_config(config) is None


@pytest.mark.parametrize(
    ("match", "events", "expected"),
    [
        ({}, [], True),  # no match: any delivery, even one without events
        ({}, [alert("HighLoad")], True),
        ({"labels.alertname": "Watchdog"}, [alert("Watchdog")], True),
        ({"labels.alertname": "Watchdog"}, [alert("HighLoad"), alert("Watchdog")], True),
        ({"labels.alertname": "Watchdog"}, [alert("HighLoad")], False),
        ({"labels.alertname": "Watchdog"}, [], False),
        ({"labels.alertname": ["Watchdog", "DeadMansSwitch"]}, [alert("DeadMansSwitch")], True),
        ({"name": {"regex": "Watch.*"}, "resource": "prometheus:9090"}, [alert("Watchdog")], True),
        ({"name": "Watchdog", "resource": "other"}, [alert("Watchdog")], False),
    ],
)
def test_what_counts_as_a_heartbeat(
    match: dict[str, Any], events: list[Event], expected: bool
) -> None:
    assert _rule(match=match).is_heartbeat(events, NOW) is expected


@pytest.mark.parametrize(
    ("last_seen", "alerted_at", "watching_since", "expected"),
    [
        # healthy: the last heartbeat is within the timeout
        (NOW - 4 * MINUTE, None, NOW - 60 * MINUTE, None),
        # silent for longer than the timeout
        (NOW - 6 * MINUTE, None, NOW - 60 * MINUTE, Change.MISSING),
        # never a heartbeat since watching began, longer than the timeout ago
        (None, None, NOW - 6 * MINUTE, Change.MISSING),
        (None, None, NOW - 4 * MINUTE, None),
        # the gateway itself was down: silence counts from when it came back
        (NOW - 600 * MINUTE, None, NOW - 2 * MINUTE, None),
        # raised: only a heartbeat after raising resolves it
        (NOW - 6 * MINUTE, NOW - MINUTE, NOW - 60 * MINUTE, None),
        (NOW - 0 * MINUTE, NOW - MINUTE, NOW - 60 * MINUTE, Change.BACK),
        (None, NOW - MINUTE, NOW - 60 * MINUTE, None),
        # a restart does not resolve a raised incident by itself
        (NOW - 90 * MINUTE, NOW - 80 * MINUTE, NOW, None),
    ],
)
def test_when_silence_changes_something(
    last_seen: datetime | None,
    alerted_at: datetime | None,
    watching_since: datetime,
    expected: Change | None,
) -> None:
    assert change_due(_rule(), last_seen, alerted_at, watching_since, NOW) is expected


def test_age_counts_from_the_last_heartbeat_or_from_when_watching_began() -> None:
    assert heartbeat_age(NOW - 90 * MINUTE, NOW - MINUTE, NOW) == 90 * 60
    assert heartbeat_age(None, NOW - MINUTE, NOW) == 60
    assert heartbeat_age(NOW + MINUTE, NOW, NOW) == 0.0  # a clock step back never goes negative


def test_the_synthetic_events_raise_and_resolve_one_incident_per_integration() -> None:
    down = heartbeat_event("prom", Change.MISSING, NOW - 6 * MINUTE, NOW)
    back = heartbeat_event("prom", Change.BACK, NOW, NOW)
    other = heartbeat_event("zabbix", Change.MISSING, NOW - 6 * MINUTE, NOW)
    assert down.summary == "monitoring is down: prom sent no heartbeat since 2026-03-02T08:54:00Z"
    assert (down.kind, down.source, down.status) == ("heartbeat", "prom", EventStatus.FIRING)
    assert down.severity is Severity.HIGH  # P2 with the default matrix
    assert back.status is EventStatus.RESOLVED
    assert down.fingerprint == back.fingerprint != other.fingerprint
