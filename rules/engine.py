"""The compiled rule set: ``lookup`` and ``evaluate`` of the RuleSet protocol.

Evaluation has two halves. Classification (catalogue mapping, then the rules
in order) depends only on the event and the clock, so ``lookup`` can run it
before storage has loaded anything. The stages then look at the stored state;
the first stage that answers decides the outcome, and the Decision is
assembled from that verdict and the classified draft.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.records import Event, EventStatus, MailFacts, MailKind, Severity
from core.subjects import is_reply_subject
from rules.calendars import Calendar
from rules.catalogue import Catalogue
from rules.decision import (
    Decision,
    EventOutcome,
    IncidentAction,
    IncidentFields,
    IncidentState,
    IncidentType,
    Lookup,
    Priority,
    SlaDue,
    State,
    StoredStatus,
    SubjectReply,
    follow_up_routes,
)
from rules.draft import Draft, Policy
from rules.holds import hold_notes
from rules.known_errors import KnownError, RecurrencePolicy, known_error_notes
from rules.lifecycle import LifecycleStage, due_closures, due_resolutions
from rules.lint import Lint
from rules.mail import bounce_notes
from rules.priority import MajorPolicy, PriorityMatrix, more_urgent
from rules.rule import Action, AddRoutes, Rule, run_rules
from rules.sla import Escalation, SlaClock, SlaTable
from rules.suppress import InhibitRule
from rules.verdict import Evaluation, Stage, Verdict

_NOTED_ACTIONS = (IncidentAction.OPEN, IncidentAction.JOIN, IncidentAction.REOPEN)


@dataclass(frozen=True, slots=True)
class Settings:
    defaults: Policy
    severity_defaults: Mapping[Severity, tuple[int, int]]
    default_routes: tuple[str, ...]
    major: MajorPolicy | None
    recurrence: RecurrencePolicy | None
    close_after: timedelta
    reply_by_subject: timedelta | None = None


@dataclass(frozen=True, slots=True)
class CompiledRuleSet:
    version: str
    settings: Settings
    prelude: tuple[Action, ...]  # runs before the rules (catalogue mapping)
    rules: tuple[Rule, ...]
    stages: tuple[Stage, ...]  # mail, ignore, suppression, flapping
    lifecycle: LifecycleStage
    inhibit_rules: tuple[InhibitRule, ...]
    known_errors: tuple[KnownError, ...]
    matrix: PriorityMatrix
    sla: SlaTable | None
    catalogue: Catalogue
    calendars: Mapping[str, Calendar] = field(default_factory=dict)  # by name, 24x7 included
    lint: Lint = field(default_factory=Lint)  # warnings for check-config

    @property
    def inhibit_labels(self) -> frozenset[str]:
        return frozenset(name for rule in self.inhibit_rules for name in rule.lookup_labels)

    def lookup(self, event: Event, now: datetime) -> Lookup:
        draft = self.classify(event, now)
        fingerprint, key = self._keys(draft)
        policy = draft.policy
        mail = event.mail
        firing = event.status is EventStatus.FIRING
        return Lookup(
            fingerprint=fingerprint,
            correlation_key=key,
            incident_keys=mail.incident_keys if mail else (),
            message_ids=_referenced_ids(mail) if mail else (),
            ci=draft.catalogue_ci or draft.ci or event.resource,
            ancestor_cis=self.catalogue.ancestors(draft.catalogue_ci) if policy.topology else (),
            count_since=policy.threshold.since(now) if policy.threshold else None,
            recent_incidents_since=self.settings.recurrence.since(now)
            if self.settings.recurrence
            else None,
            inhibit_queries=tuple(
                query for rule in self.inhibit_rules if (query := rule.query(draft)) is not None
            )
            if firing
            else (),
            reply_by_subject=self._reply_by_subject(event, now),
        )

    def _reply_by_subject(self, event: Event, now: datetime) -> SubjectReply | None:
        """Where a reply without key or thread is looked for, if it is one and the
        setting is on."""
        window, mail = self.settings.reply_by_subject, event.mail
        if (
            window is None
            or mail is None
            or mail.kind not in (MailKind.NEW, MailKind.REPLY)
            or mail.incident_keys
            or not mail.sender
            or not is_reply_subject(mail.subject)
        ):
            return None
        return SubjectReply(event.source, mail.sender, event.name, now - window)

    def evaluate(self, event: Event, state: State, now: datetime) -> Decision:
        draft = self.classify(event, now)
        fingerprint, key = self._keys(draft)
        evaluation = Evaluation(draft, state, now, fingerprint, key)
        verdict = self._verdict(evaluation)
        return self._decision(evaluation, verdict)

    def classify(self, event: Event, now: datetime) -> Draft:
        """The event after catalogue mapping and the rules; pure, state-independent."""
        impact, urgency = self.settings.severity_defaults[event.severity]
        mail = event.mail
        draft = Draft(
            event=event,
            now=now,
            policy=self.settings.defaults,
            title=(mail.subject if mail and mail.subject else event.summary) or event.name,
            impact=impact,
            urgency=urgency,
            service=event.service,
            ci=event.ci,
            environment=event.environment,
            requester=mail.sender if mail else "",
            type=_default_type(event),
        )
        for action in self.prelude:
            action.apply(draft)
        run_rules(self.rules, draft)
        return draft

    def _keys(self, draft: Draft) -> tuple[str, str]:
        fingerprint = draft.policy.fingerprint.compute(draft)
        correlation = draft.policy.correlation
        key = correlation.key_for(draft, fingerprint) if correlation else fingerprint
        return fingerprint, key

    def _verdict(self, evaluation: Evaluation) -> Verdict:
        for stage in self.stages:
            verdict = stage.apply(evaluation)
            if verdict is not None:
                return verdict
        return self.lifecycle.apply(evaluation)

    def _decision(self, evaluation: Evaluation, verdict: Verdict) -> Decision:
        draft, state, now = evaluation.draft, evaluation.state, evaluation.now
        target = _incident_by_id(state, verdict.incident_id)
        priority = self._priority(draft)
        event_count = (target.event_count if target else 0) + 1
        major = draft.major or self._is_major(priority, draft.service, event_count)
        fields = IncidentFields(
            title=draft.title,
            type=draft.type,
            impact=draft.impact,
            urgency=draft.urgency,
            priority=priority,
            major=major,
            service=draft.service,
            ci=draft.ci or draft.event.resource,
            environment=draft.environment,
            category=draft.category,
            assignment_group=draft.assignment_group,
            requester=draft.requester,
            owner=draft.owner,
        )
        action = verdict.action
        notes = known_error_notes(self.known_errors, draft) if action in _NOTED_ACTIONS else ()
        if verdict.incident_id is not None and action is IncidentAction.NONE:
            notes = bounce_notes(draft.event)
        status = _stored_status(draft.event, verdict)
        notes = (*notes, *hold_notes(evaluation, verdict, target, status))
        recurrence = self.settings.recurrence
        related = (
            recurrence.related(state.recent_incidents)
            if recurrence and action is IncidentAction.OPEN
            else ()
        )
        routes = tuple(draft.routes or self.settings.default_routes)
        if action is IncidentAction.NONE:
            routes = ()
        elif action is not IncidentAction.OPEN:
            routes = follow_up_routes(target.routes if target else (), routes)
        return Decision(
            fingerprint=evaluation.fingerprint,
            correlation_key=evaluation.correlation_key,
            outcome=verdict.outcome,
            action=action,
            incident=fields,
            event_status=status,
            incident_id=verdict.incident_id,
            linked_incident_id=verdict.linked_incident_id,
            suppressed_by=verdict.suppressed_by,
            routes=routes,
            sla=self._sla(action, priority, draft.service, target, now),
            notes=notes,
            matched_rules=tuple(draft.matched),
            rule_errors=tuple(draft.errors),
            flapping=verdict.flapping,
            resolve_after=verdict.resolve_after,
            adopt_pending_since=verdict.adopt_pending_since,
            problem_candidate=bool(related),
            related_incident_ids=related,
        )

    def _priority(self, draft: Draft) -> Priority:
        base = draft.priority or self.matrix.priority(draft.impact, draft.urgency)
        return more_urgent(base, draft.priority_floor)

    def _is_major(self, priority: Priority, service: str, event_count: int) -> bool:
        policy = self.settings.major
        if policy is None or policy.is_empty:
            return False
        return policy.applies(priority, self.catalogue.is_critical(service), event_count)

    def _sla(
        self,
        action: IncidentAction,
        priority: Priority,
        service: str,
        target: IncidentState | None,
        now: datetime,
    ) -> SlaDue | None:
        """Due times for a new or reopened incident, or one whose priority was raised."""
        if self.sla is None:
            return None
        if action in (IncidentAction.OPEN, IncidentAction.REOPEN):
            return self.sla.due(priority, service, now)
        raised = target is not None and priority.rank < target.priority.rank
        if target is not None and raised and action in (IncidentAction.JOIN, IncidentAction.UPDATE):
            return self.sla.due(priority, service, target.created_at)
        return None

    # Pure helpers for storage's periodic job.

    def route_names(self) -> frozenset[str]:
        """Every sink name the rule set can route to, for checking against the config."""
        names = set(self.settings.default_routes)
        for rule in self.rules:
            for action in rule.actions:
                if isinstance(action, AddRoutes):
                    names.update(action.routes)
        if self.sla is not None:
            names.update(self.sla.on_near_breach.routes)
            names.update(self.sla.on_breach.routes)
        return frozenset(names)

    def due_resolutions(self, incidents: Iterable[IncidentState], now: datetime) -> list[int]:
        return due_resolutions(incidents, now)

    def due_closures(self, incidents: Iterable[IncidentState], now: datetime) -> list[int]:
        return due_closures(incidents, now, self.settings.close_after)

    def escalations(self, clock: SlaClock, now: datetime) -> list[Escalation]:
        return self.sla.escalations(clock, now) if self.sla else []


def _default_type(event: Event) -> IncidentType:
    """A mailbox may say what its mail is (service@ takes service requests); rules may
    still change it. Anything else starts as an incident."""
    try:
        return IncidentType(event.labels.get("incident_type", IncidentType.INCIDENT.value))
    except ValueError:
        return IncidentType.INCIDENT


def _stored_status(event: Event, verdict: Verdict) -> StoredStatus:
    """A mail added to an incident as a comment is stored as one, not as an alert."""
    if verdict.outcome is EventOutcome.COMMENT:
        return StoredStatus.COMMENT
    return StoredStatus.of(event.status)


def _incident_by_id(state: State, incident_id: int | None) -> IncidentState | None:
    if incident_id is None:
        return None
    candidates = (state.incident, *state.referenced, *state.ancestor_incidents)
    return next((found for found in candidates if found and found.id == incident_id), None)


def _referenced_ids(mail: MailFacts) -> tuple[str, ...]:
    """Message-IDs that tie a mail to an incident: its thread, and for a bounce the
    message that could not be delivered."""
    bounced = mail.bounced_message_ids if mail.kind is MailKind.BOUNCE else ()
    return (*mail.in_reply_to, *mail.references, *bounced)
