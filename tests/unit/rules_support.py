"""Builders shared by the rule-engine unit tests: events, stored state, rule sets from text."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.records import Event, EventStatus, MailFacts, MailKind, Severity
from rules.decision import EventState, IncidentState, IncidentStatus, Priority, StoredStatus
from rules.dedup import SourceFingerprint
from rules.draft import Draft, Policy
from rules.engine import CompiledRuleSet
from rules.loader import load_ruleset

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday


POLICY = Policy(
    fingerprint=SourceFingerprint(),
    dedup_window=None,
    correlation=None,
    topology="",
    threshold=None,
    flapping=None,
    auto_resolve=True,
    resolve_hold_down=timedelta(0),
    reopen_window=timedelta(hours=24),
)


def draft(source: Event | None = None) -> Draft:
    """A working draft of an event before any rule ran."""
    return Draft(event=source or event(), now=NOW, policy=POLICY, title="t", impact=3, urgency=3)


def event(**changes: Any) -> Event:
    fields: dict[str, Any] = {
        "source": "prometheus",
        "kind": "alertmanager",
        "name": "HostDown",
        "resource": "web1:9100",
        "severity": Severity.HIGH,
        "status": EventStatus.FIRING,
        "summary": "web1 is down",
        "occurred_at": NOW,
        "labels": {"alertname": "HostDown", "instance": "web1:9100"},
    }
    fields.update(changes)
    return Event(**fields)


def mail_event(kind: MailKind = MailKind.NEW, **mail: Any) -> Event:
    facts: dict[str, Any] = {
        "kind": kind,
        "message_id": "<m1@example.org>",
        "subject": "Printer jams",
        "sender": "eve@example.org",
    }
    facts.update(mail)
    return event(
        source="helpdesk",
        kind="email",
        name="mail",
        resource="helpdesk@example.org",
        severity=Severity.LOW,
        summary="",
        labels={},
        mail=MailFacts(**facts),
    )


def stored(
    status: EventStatus | StoredStatus = EventStatus.FIRING,
    incident_id: int | None = 1,
    last_seen: datetime = NOW - timedelta(minutes=1),
    **changes: Any,
) -> EventState:
    fields: dict[str, Any] = {
        "id": 1,
        "fingerprint": "f",
        "status": StoredStatus(status),
        "severity": Severity.HIGH,
        "count": 1,
        "first_seen": last_seen,
        "last_seen": last_seen,
        "incident_id": incident_id,
    }
    fields.update(changes)
    return EventState(**fields)


def incident(
    id: int = 1, status: IncidentStatus = IncidentStatus.NEW, **changes: Any
) -> IncidentState:
    fields: dict[str, Any] = {
        "id": id,
        "key": f"INC-{id:06d}",
        "status": status,
        "priority": Priority.P3,
        "correlation_key": "k",
        "created_at": NOW - timedelta(minutes=10),
        "updated_at": NOW - timedelta(minutes=2),
        "firing_events": 1,
    }
    fields.update(changes)
    return IncidentState(**fields)


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def ruleset(tmp_path: Path, rules: str = "", catalogue: str | None = None) -> CompiledRuleSet:
    """A rule set from one rule file (and optionally a catalogue) written into tmp_path."""
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir(parents=True, exist_ok=True)
    if rules:
        write(rules_dir, "10-test.yaml", rules)
    catalogue_path = write(tmp_path, "catalogue.yaml", catalogue) if catalogue else None
    return load_ruleset(rules_dir, catalogue_path)
