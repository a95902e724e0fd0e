"""Heartbeats, the pure part: which deliveries are one, and when silence becomes an incident.

No I/O and no clock: times are passed in, so every rule here is tested with
a fixed clock. ``gateway.jobs.heartbeats`` does the storing and the periodic check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.records import Event, EventStatus, Severity
from gateway.config.model import IntegrationConfig
from rules.dedup import SourceFingerprint
from rules.draft import Draft, Policy
from rules.matchers import Predicate, compile_block

HEARTBEAT_KIND = "heartbeat"

# Matching reads only the event's own fields; the policy is never consulted.
_MATCH_POLICY = Policy(
    fingerprint=SourceFingerprint(),
    dedup_window=None,
    correlation=None,
    topology="",
    threshold=None,
    flapping=None,
    auto_resolve=False,
    resolve_hold_down=timedelta(0),
    reopen_window=timedelta(0),
)


def _as_draft(event: Event, now: datetime) -> Draft:
    """The event as rule matchers read it, before any rule has changed it."""
    return Draft(
        event=event,
        now=now,
        policy=_MATCH_POLICY,
        title=event.summary or event.name,
        impact=3,
        urgency=3,
        service=event.service,
        ci=event.ci,
        environment=event.environment,
    )


@dataclass(frozen=True, slots=True)
class HeartbeatRule:
    """One integration's expected heartbeat, compiled from its config."""

    integration: str
    timeout: timedelta
    matches: Predicate | None  # None: every accepted delivery is a heartbeat

    @classmethod
    def from_config(cls, config: IntegrationConfig) -> HeartbeatRule | None:
        heartbeat = config.heartbeat
        if heartbeat is None:
            return None
        matches = compile_block(heartbeat.match) if heartbeat.match else None
        return cls(config.name, heartbeat.timeout, matches)

    def is_heartbeat(self, events: Sequence[Event], now: datetime) -> bool:
        if self.matches is None:
            return True
        return any(self.matches(_as_draft(event, now)) for event in events)


class Change(StrEnum):
    MISSING = "missing"  # silence beyond the timeout: raise the incident
    BACK = "back"  # a heartbeat came after the incident was raised: resolve it


def change_due(
    rule: HeartbeatRule,
    last_seen: datetime | None,
    alerted_at: datetime | None,
    watching_since: datetime,
    now: datetime,
) -> Change | None:
    """What the stored state means at ``now``; None when nothing changes.

    Silence is counted from the last heartbeat, but never from before this
    process began watching: a gateway that was itself down for an hour has
    not seen an hour of silence. Only a heartbeat that came after the
    incident was raised resolves it, so a restart never resolves it by itself.
    """
    if alerted_at is not None:
        return Change.BACK if last_seen is not None and last_seen > alerted_at else None
    reference = max(last_seen, watching_since) if last_seen is not None else watching_since
    return Change.MISSING if now - reference > rule.timeout else None


def heartbeat_age(last_seen: datetime | None, watching_since: datetime, now: datetime) -> float:
    """Seconds since the last heartbeat (since watching began, when none has come)."""
    return max(0.0, (now - (last_seen or watching_since)).total_seconds())


def heartbeat_fingerprint(integration: str) -> str:
    return f"heartbeat:{integration}"


def heartbeat_event(integration: str, change: Change, at: datetime, now: datetime) -> Event:
    """The synthetic event that raises (or resolves) "monitoring is down" for an integration.

    ``at`` is the last heartbeat (or when watching began, if none came yet).
    Severity high gives P2 with the default priority matrix; rules may still
    change it like any other event's (match ``kind: heartbeat``).
    """
    missing = change is Change.MISSING
    summary = (
        f"monitoring is down: {integration} sent no heartbeat since {_when(at)}"
        if missing
        else f"monitoring is back: {integration} sent a heartbeat at {_when(at)}"
    )
    return Event(
        source=integration,
        kind=HEARTBEAT_KIND,
        name="heartbeat missing",
        resource=integration,
        severity=Severity.HIGH,
        status=EventStatus.FIRING if missing else EventStatus.RESOLVED,
        summary=summary,
        occurred_at=now,
        labels={"integration": integration},
        fingerprint=heartbeat_fingerprint(integration),
    )


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
