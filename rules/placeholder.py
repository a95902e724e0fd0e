"""The smallest rule set that honours the contract: one incident per fingerprint.

Used when no rule files are configured. Repeats fold onto the stored event,
a resolved event resolves its incident, and a firing event after resolution
reopens it.
"""

from __future__ import annotations

from datetime import datetime

from core.records import Event, EventStatus, Severity
from rules.decision import (
    Decision,
    EventOutcome,
    IncidentAction,
    IncidentFields,
    Lookup,
    Priority,
    State,
)

_PRIORITY_BY_SEVERITY = {
    Severity.CRITICAL: Priority.P1,
    Severity.HIGH: Priority.P2,
    Severity.MEDIUM: Priority.P3,
    Severity.LOW: Priority.P4,
    Severity.INFO: Priority.P4,
}


class FingerprintRuleSet:
    """One event, one incident per fingerprint."""

    version = "placeholder"
    inhibit_labels: frozenset[str] = frozenset()

    def lookup(self, event: Event, now: datetime) -> Lookup:
        fingerprint = event.fingerprint or event.default_fingerprint()
        return Lookup(fingerprint=fingerprint, correlation_key=fingerprint)

    def evaluate(self, event: Event, state: State, now: datetime) -> Decision:
        keys = self.lookup(event, now)
        fields = IncidentFields(
            title=event.summary or event.name,
            priority=_PRIORITY_BY_SEVERITY[event.severity],
            service=event.service,
            ci=event.ci or event.resource,
            environment=event.environment,
        )
        incident = state.incident
        firing = event.status is EventStatus.FIRING
        if incident is None:
            if not firing:
                return Decision(
                    keys.fingerprint,
                    keys.correlation_key,
                    EventOutcome.RESOLVED,
                    IncidentAction.NONE,
                    fields,
                )
            return Decision(
                keys.fingerprint,
                keys.correlation_key,
                EventOutcome.NEW,
                IncidentAction.OPEN,
                fields,
            )
        if firing:
            outcome = EventOutcome.DEDUPLICATED if state.event else EventOutcome.NEW
            action = IncidentAction.UPDATE if incident.status.is_open else IncidentAction.REOPEN
        else:
            outcome = EventOutcome.RESOLVED
            action = IncidentAction.RESOLVE if incident.status.is_open else IncidentAction.NONE
        return Decision(
            keys.fingerprint,
            keys.correlation_key,
            outcome,
            action,
            fields,
            incident_id=incident.id,
        )
