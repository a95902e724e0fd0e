"""Suppression stages: silences, maintenance windows, inhibition, topology inhibition.

Only firing events are suppressed; recoveries always pass, so an incident
never stays open because its recovery arrived during a silence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from core.records import Event, EventStatus
from rules.catalogue import Catalogue
from rules.correlate import nearest_ancestor_incident
from rules.decision import EventOutcome, FiringEvent, IncidentAction, InhibitQuery
from rules.draft import Draft
from rules.matchers import MatcherError, Predicate, compile_triples
from rules.verdict import Evaluation, Verdict


def _firing(evaluation: Evaluation) -> bool:
    return evaluation.draft.event.status is EventStatus.FIRING


def _suppressed(by: str, outcome: EventOutcome = EventOutcome.SUPPRESSED) -> Verdict:
    return Verdict(outcome, IncidentAction.NONE, suppressed_by=by)


@dataclass(frozen=True, slots=True)
class SilenceStage:
    """Silences from storage; their matchers are compiled per event (they change at runtime)."""

    def apply(self, evaluation: Evaluation) -> Verdict | None:
        if not _firing(evaluation):
            return None
        now = evaluation.now
        for silence in evaluation.state.silences:
            if not silence.starts_at <= now < silence.ends_at:
                continue
            try:
                matches = compile_triples(silence.matchers)(evaluation.draft)
            except MatcherError as exc:
                evaluation.draft.errors.append(f"silence:{silence.id}: {exc}")
                continue
            if matches:
                return _suppressed(f"silence:{silence.id}")
        return None


class Schedule(Protocol):
    def active(self, now: datetime) -> bool: ...


@dataclass(frozen=True, slots=True)
class OneOff:
    start: datetime
    end: datetime

    def active(self, now: datetime) -> bool:
        return self.start <= now < self.end


@dataclass(frozen=True, slots=True)
class Weekly:
    """Every week on ``days`` (0 = Monday) from ``start`` local time for ``duration``."""

    days: frozenset[int]
    start: time
    duration: timedelta
    zone: ZoneInfo

    def active(self, now: datetime) -> bool:
        local_day = now.astimezone(self.zone).date()
        # A window that began on an earlier day may still be running.
        for back in range(self.duration.days + 2):
            day = local_day - timedelta(days=back)
            if day.weekday() not in self.days:
                continue
            begins = datetime.combine(day, self.start, tzinfo=self.zone)
            if begins <= now < begins + self.duration:
                return True
        return False


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    name: str
    predicate: Predicate
    schedule: Schedule

    def covers(self, draft: Draft, now: datetime) -> bool:
        return self.schedule.active(now) and self.predicate(draft)


@dataclass(frozen=True, slots=True)
class MaintenanceStage:
    windows: tuple[MaintenanceWindow, ...]

    def apply(self, evaluation: Evaluation) -> Verdict | None:
        if not _firing(evaluation):
            return None
        for window in self.windows:
            if window.covers(evaluation.draft, evaluation.now):
                return _suppressed(f"maintenance:{window.name}")
        return None


@dataclass(frozen=True, slots=True)
class InhibitRule:
    """Like Alertmanager: a firing source mutes targets that share the ``equal`` labels."""

    name: str
    source: Predicate
    target: Predicate
    equal: tuple[str, ...]
    source_labels: tuple[tuple[str, str], ...]  # label equalities of ``source``, for storage

    @property
    def lookup_labels(self) -> tuple[str, ...]:
        """Label names its sources are looked up by (storage indexes them): the first
        label equality of ``source``, or else those of ``equal`` (the query has one of
        them when ``source`` has none)."""
        return self.source_labels[0][:1] if self.source_labels else self.equal

    def query(self, draft: Draft) -> InhibitQuery | None:
        if not self.target(draft):
            return None
        labels = draft.event.labels
        shared = tuple((name, labels[name]) for name in self.equal if labels.get(name))
        return InhibitQuery(self.name, self.source_labels + shared)

    def inhibits(self, draft: Draft, firing: FiringEvent) -> bool:
        labels = draft.event.labels
        if any(firing.labels.get(name, "") != labels.get(name, "") for name in self.equal):
            return False
        return self.target(draft) and self.source(_as_draft(firing, draft))


def _as_draft(firing: FiringEvent, like: Draft) -> Draft:
    """A stored firing event in the shape source matchers read."""
    event = Event(
        source=firing.source,
        kind="",
        name=firing.name,
        resource=firing.resource,
        severity=firing.severity,
        status=EventStatus.FIRING,
        summary="",
        occurred_at=like.now,
        service=firing.service,
        ci=firing.ci,
        labels=firing.labels,
        fingerprint=firing.fingerprint,
    )
    return Draft(
        event=event,
        now=like.now,
        policy=like.policy,
        title="",
        impact=like.impact,
        urgency=like.urgency,
        service=firing.service,
        ci=firing.ci,
    )


@dataclass(frozen=True, slots=True)
class InhibitStage:
    rules: tuple[InhibitRule, ...]

    def apply(self, evaluation: Evaluation) -> Verdict | None:
        if not _firing(evaluation):
            return None
        for firing in evaluation.state.firing_sources:
            if firing.fingerprint == evaluation.fingerprint:
                continue  # an event never inhibits itself
            for rule in self.rules:
                if rule.inhibits(evaluation.draft, firing):
                    return _suppressed(f"inhibit:{rule.name}", EventOutcome.INHIBITED)
        return None


@dataclass(frozen=True, slots=True)
class TopologyInhibitStage:
    """``topology: inhibit``: a CI behind a failed parent is muted while the parent is open."""

    catalogue: Catalogue

    def apply(self, evaluation: Evaluation) -> Verdict | None:
        draft = evaluation.draft
        if draft.policy.topology != "inhibit" or not _firing(evaluation):
            return None
        parent = nearest_ancestor_incident(
            self.catalogue.ancestors(draft.catalogue_ci), evaluation.state.ancestor_incidents
        )
        if parent is None:
            return None
        return _suppressed(f"topology:{parent.ci}", EventOutcome.INHIBITED)
