"""Flap detection with damping, so a toggling check does not open and close incidents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.records import Event
from rules.decision import EventOutcome, EventState, IncidentAction, StoredStatus
from rules.verdict import Evaluation, Verdict


@dataclass(frozen=True, slots=True)
class FlappingPolicy:
    """More than ``transitions`` status changes in ``window`` starts flapping.

    Once flapping, it stops only when the count falls to ``clear_at`` or below
    (hysteresis): without it an event on the edge would start and stop
    flapping on every change.
    """

    transitions: int
    window: timedelta
    clear_at: int

    def is_flapping(self, stored: EventState | None, event: Event, now: datetime) -> bool:
        if stored is None:
            return False
        since = now - self.window
        count = sum(1 for moment in stored.transitions if moment >= since)
        if stored.status is not StoredStatus.of(event.status):
            count += 1  # this event is a transition too
        limit = self.clear_at if stored.flapping else self.transitions
        return count > limit


@dataclass(frozen=True, slots=True)
class FlappingStage:
    """Hold a flapping event: record it on an open incident, never open or resolve."""

    def apply(self, evaluation: Evaluation) -> Verdict | None:
        policy = evaluation.draft.policy.flapping
        state = evaluation.state
        if policy is None or not policy.is_flapping(
            state.event, evaluation.draft.event, evaluation.now
        ):
            return None
        incident = state.incident
        if incident is not None and incident.status.is_open:
            return Verdict(EventOutcome.FLAPPING, IncidentAction.UPDATE, incident.id, flapping=True)
        incident_id = incident.id if incident is not None else None
        return Verdict(EventOutcome.FLAPPING, IncidentAction.NONE, incident_id, flapping=True)
