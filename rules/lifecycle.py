"""The incident lifecycle: de-duplicate, correlate, open, reopen, resolve, close.

``LifecycleStage`` is the last stage of evaluation and always answers. The
module functions are for storage's periodic job: which incidents to resolve
after their hold-down, and which resolved incidents to close.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.records import EventStatus
from rules.catalogue import Catalogue
from rules.correlate import nearest_ancestor_incident
from rules.decision import (
    EventOutcome,
    IncidentAction,
    IncidentState,
    IncidentStatus,
    StoredStatus,
)
from rules.dedup import is_repeat
from rules.verdict import Evaluation, Verdict


@dataclass(frozen=True, slots=True)
class LifecycleStage:
    catalogue: Catalogue

    def apply(self, evaluation: Evaluation) -> Verdict:
        if evaluation.draft.event.status is EventStatus.FIRING:
            return self._firing(evaluation)
        return _recovered(evaluation)

    def _firing(self, evaluation: Evaluation) -> Verdict:
        draft, state, now = evaluation.draft, evaluation.state, evaluation.now
        policy = draft.policy
        stored, incident = state.event, state.incident
        repeat = is_repeat(stored, draft.event, now, policy.dedup_window)
        own = stored.incident_id if stored is not None else None
        occurrence = EventOutcome.DEDUPLICATED if repeat else EventOutcome.NEW

        if incident is not None and incident.status.is_open and incident.id == own:
            return Verdict(occurrence, IncidentAction.UPDATE, incident.id)
        if repeat and own is not None:
            # Still the same firing: a human may have resolved the incident; do not reopen.
            return Verdict(EventOutcome.DEDUPLICATED, IncidentAction.NONE, own)
        if policy.topology == "join":
            parent = nearest_ancestor_incident(
                self.catalogue.ancestors(draft.catalogue_ci), state.ancestor_incidents
            )
            if parent is not None:
                return Verdict(EventOutcome.CORRELATED, IncidentAction.JOIN, parent.id)
        if incident is not None and incident.status.is_open:
            correlation = policy.correlation
            if correlation is None or correlation.may_join(incident, now):
                return Verdict(EventOutcome.CORRELATED, IncidentAction.JOIN, incident.id)
        if incident is not None and not incident.status.is_open and incident.id == own:
            if _within(incident.resolved_at, now, policy.reopen_window) and (
                incident.status is IncidentStatus.RESOLVED
            ):
                return Verdict(occurrence, IncidentAction.REOPEN, incident.id)
            return _open(evaluation, linked=incident.id)
        return _open(evaluation, linked=None)


def _open(evaluation: Evaluation, linked: int | None) -> Verdict:
    threshold = evaluation.draft.policy.threshold
    if threshold is not None and not threshold.reached(evaluation.state.recent_count):
        return Verdict(EventOutcome.PENDING, IncidentAction.NONE, linked_incident_id=linked)
    return Verdict(
        EventOutcome.NEW,
        IncidentAction.OPEN,
        linked_incident_id=linked,
        adopt_pending_since=threshold.since(evaluation.now) if threshold else None,
    )


def _recovered(evaluation: Evaluation) -> Verdict:
    draft, state, now = evaluation.draft, evaluation.state, evaluation.now
    stored, incident = state.event, state.incident
    if stored is None:
        return Verdict(EventOutcome.RESOLVED, IncidentAction.NONE)
    if stored.status is StoredStatus.RESOLVED:
        return Verdict(EventOutcome.DEDUPLICATED, IncidentAction.NONE, stored.incident_id)
    if incident is None or not incident.status.is_open or incident.id != stored.incident_id:
        return Verdict(EventOutcome.RESOLVED, IncidentAction.NONE, stored.incident_id)
    policy = draft.policy
    # this event was one of the firing ones, unless it was stored as a comment
    still_firing = incident.firing_events - int(stored.status is StoredStatus.FIRING)
    if not policy.auto_resolve or still_firing > 0:
        return Verdict(EventOutcome.RESOLVED, IncidentAction.UPDATE, incident.id)
    if policy.resolve_hold_down:
        return Verdict(
            EventOutcome.RESOLVED,
            IncidentAction.UPDATE,
            incident.id,
            resolve_after=now + policy.resolve_hold_down,
        )
    return Verdict(EventOutcome.RESOLVED, IncidentAction.RESOLVE, incident.id)


def _within(moment: datetime | None, now: datetime, window: timedelta) -> bool:
    return moment is not None and now - moment <= window


def due_resolutions(incidents: Iterable[IncidentState], now: datetime) -> list[int]:
    """Open incidents whose hold-down has passed with no event firing again."""
    return [
        incident.id
        for incident in incidents
        if incident.status.is_open
        and incident.resolve_after is not None
        and incident.resolve_after <= now
        and incident.firing_events == 0
    ]


def due_closures(
    incidents: Iterable[IncidentState], now: datetime, close_after: timedelta
) -> list[int]:
    """Resolved incidents that have stayed resolved for ``close_after``."""
    return [
        incident.id
        for incident in incidents
        if incident.status is IncidentStatus.RESOLVED
        and incident.resolved_at is not None
        and now - incident.resolved_at >= close_after
    ]
