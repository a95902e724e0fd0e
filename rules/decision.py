"""The rule engine's contract: Lookup, State in; Decision out.

Evaluation is two-phase so that the engine stays pure and storage stays the
only place that touches the database:

1. ``ruleset.lookup(event, now) -> Lookup``: which stored rows the decision
   depends on (the event's fingerprint, the correlation key, the incidents a
   mail refers to).
2. storage loads those rows into a frozen :class:`State`.
3. ``ruleset.evaluate(event, state, now) -> Decision``: what should change.
4. storage applies the decision (event, incident, timeline, outbox) in one
   transaction.

Fields added for the compiled rule set (all have defaults, so a storage that
does not fill them yet still works; the feature that needs them is then off):

Lookup -> what storage must load
  ``ci``                      the catalogue CI the event maps to (or the event's
                              own ci/resource); used with ``recent_incidents_since``.
  ``ancestor_cis``            CI names the event's CI depends on, nearest first.
                              Load every OPEN incident whose ``ci`` is one of
                              them into ``State.ancestor_incidents`` (any order).
  ``count_since``             when not None: count the occurrences already stored
                              (every evaluated event, repeats of one fingerprint
                              included, the current one excluded) whose
                              correlation key is ``correlation_key`` and that were
                              received at or after ``count_since``; put the number
                              in ``State.recent_count``.
  ``recent_incidents_since``  when not None: ids of incidents (any status) created
                              at or after this time that have an event with
                              ``fingerprint`` or whose ``ci`` equals ``ci`` (when
                              ``ci`` is not empty), newest first, at most 50, into
                              ``State.recent_incidents``.
  ``inhibit_queries``         for each query: FIRING events (not suppressed, any
                              incident) whose labels contain every (name, value)
                              pair of ``query.labels``, at most 20 per query, as
                              :class:`FiringEvent` into ``State.firing_sources``.
                              The engine re-checks the full source matchers.

IncidentState (every incident storage puts in State)
  ``ci``            the incident's CI (``IncidentFields.ci`` when it was opened).
  ``event_count``   total occurrences of all its events (sum of event counts).
  ``resolve_after`` the pending hold-down resolution time, see below.
  ``routes``        the sinks that hold the incident's ticket or were sent it: the
                    incident's stored routes and the sink of every external reference.

Decision -> what storage must do with the new fields
  ``event_status``         store the event with this status and count it among its
                           incident's firing events only when it is FIRING: a mail the
                           rules made a comment is stored as COMMENT.
  ``routes``               for an OPEN, the sinks to open tickets in; for any other
                           action, every sink of the incident (``IncidentState.routes``)
                           followed by the event's own routes (``follow_up_routes``).
                           Storage adds the new ones to the incident's stored routes.
  ``resolve_after``        with action UPDATE on ``incident_id``: set the incident's
                           ``resolve_after``. The periodic job resolves it once that
                           time has passed and it still has no firing event
                           (``CompiledRuleSet.due_resolutions``). A later decision
                           that JOINs, UPDATEs or REOPENs the incident with a
                           firing event clears ``resolve_after``.
  ``adopt_pending_since``  with action OPEN: attach the PENDING events of the same
                           correlation key received at or after this time to the
                           new incident.
  ``problem_candidate``    flag the incident as a problem candidate, linked to
                           ``related_incident_ids``.
  ``flapping``             store it on the event (``EventState.flapping``); storage
                           appends to ``EventState.transitions`` whenever an event's
                           status changes (keep the last hour or so).
  ``IncidentFields.owner`` the owner from the catalogue; store like the other fields.
  On JOIN/UPDATE/REOPEN, ``incident.priority`` is applied only when it is more
  urgent than the stored one (rules raise priority, never lower it), and
  ``sla`` (when not None) replaces the stored due times.

Periodic job (pure helpers on the compiled rule set)
  ``due_resolutions(open incidents, now)``  incident ids to resolve now.
  ``due_closures(resolved incidents, now)`` incident ids to close now.
  ``escalations(SlaClock, now)``            near-breach/breach escalations not yet
                           done; storage records ``Escalation.key`` in the clock's
                           ``escalated`` set so a level is escalated once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.records import Event, EventStatus, Severity


class IncidentStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    PENDING = "pending"  # waiting on the requester: the SLA clocks stand still
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self in (IncidentStatus.NEW, IncidentStatus.ACKNOWLEDGED, IncidentStatus.PENDING)


class StoredStatus(StrEnum):
    """An event's status as stored (and shown by the API): the status it came with, or
    COMMENT for a mail the rules added to an incident as a comment. A comment is not an
    alert: it never counts among its incident's firing events, so it cannot hold back
    the incident's recovery."""

    FIRING = "firing"
    RESOLVED = "resolved"
    COMMENT = "comment"

    @classmethod
    def of(cls, status: EventStatus) -> StoredStatus:
        return cls(status.value)


class IncidentType(StrEnum):
    INCIDENT = "incident"
    SERVICE_REQUEST = "service_request"
    COMPLAINT = "complaint"
    CHANGE_REQUEST = "change_request"


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def rank(self) -> int:
        """Lower number is more urgent: P1 -> 1."""
        return int(self.value[1])


class EventOutcome(StrEnum):
    """What happened to the event; also the metric label ``outcome``."""

    NEW = "new"  # first time this fingerprint is seen (or seen again after the dedup window)
    DEDUPLICATED = "deduplicated"  # a repeat folded onto the stored event
    CORRELATED = "correlated"  # a new event joined an existing open incident
    RESOLVED = "resolved"  # the event recovered
    SUPPRESSED = "suppressed"  # silenced or in a maintenance window: stored, no incident
    INHIBITED = "inhibited"  # a firing source event suppresses it
    FLAPPING = "flapping"  # toggling too often: held
    PENDING = "pending"  # below an "N events in M minutes" threshold: stored, no incident yet
    COMMENT = "comment"  # a mail reply added to an incident
    IGNORED = "ignored"  # auto-replies, bounces: stored, never an incident


class IncidentAction(StrEnum):
    NONE = "none"
    OPEN = "open"  # create a new incident from ``Decision.incident``
    JOIN = "join"  # attach the event to ``incident_id``
    UPDATE = "update"  # change fields of ``incident_id`` (occurrence, priority raise)
    REOPEN = "reopen"  # resolved -> new for ``incident_id``
    RESOLVE = "resolve"  # all events of ``incident_id`` recovered
    COMMENT = "comment"  # add a comment (mail reply) to ``incident_id``


@dataclass(frozen=True, slots=True)
class Lookup:
    """Keys storage needs to build the :class:`State` for one event."""

    fingerprint: str
    correlation_key: str
    incident_keys: tuple[str, ...] = ()  # INC-000123 from a mail subject
    message_ids: tuple[str, ...] = ()  # In-Reply-To / References of a mail
    ci: str = ""  # the CI the event maps to (see the module docstring)
    ancestor_cis: tuple[str, ...] = ()  # CIs the event's CI depends on, nearest first
    count_since: datetime | None = None  # count occurrences of correlation_key since
    recent_incidents_since: datetime | None = None  # incidents of fingerprint/ci since
    inhibit_queries: tuple[InhibitQuery, ...] = ()  # firing source events to load
    reply_by_subject: SubjectReply | None = None  # a reply without key or thread


@dataclass(frozen=True, slots=True)
class SubjectReply:
    """Where a reply that lost its key and References is looked for: the incident of
    the same sender's mail of the same subject (as an event name) since a time."""

    source: str
    sender: str
    name: str
    since: datetime


@dataclass(frozen=True, slots=True)
class InhibitQuery:
    """Firing events that may inhibit this one: all ``labels`` pairs must be present."""

    rule: str
    labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class FiringEvent:
    """A firing event loaded for an inhibit query (fields as stored, labels as stored)."""

    fingerprint: str
    source: str
    name: str
    resource: str
    severity: Severity
    service: str = ""
    ci: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventState:
    """The stored event for the looked-up fingerprint."""

    id: int
    fingerprint: str
    status: StoredStatus
    severity: Severity
    count: int
    first_seen: datetime
    last_seen: datetime
    incident_id: int | None
    flapping: bool = False
    transitions: tuple[datetime, ...] = ()  # recent firing<->resolved changes, oldest first
    # as stored, for the reports' daily roll-up (an update never changes them)
    source: str = ""
    kind: str = ""
    name: str = ""
    resource: str = ""


@dataclass(frozen=True, slots=True)
class IncidentState:
    id: int
    key: str
    status: IncidentStatus
    priority: Priority
    correlation_key: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    firing_events: int = 0  # alerts of this incident still firing (comments never count)
    ci: str = ""
    event_count: int = 0  # occurrences of all its events
    resolve_after: datetime | None = None  # pending hold-down resolution
    # sinks that hold its ticket or were sent it: its routes and its external references
    routes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SilenceState:
    """An active silence: all matchers must match the event's fields or labels."""

    id: int
    matchers: tuple[tuple[str, str, str], ...]  # (name, op, value); op in = != =~ !~
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class State:
    """What storage knew when the event arrived. Built fresh per event."""

    event: EventState | None = None
    # the open incident for the correlation key, else the event's last incident
    incident: IncidentState | None = None
    # incidents a mail refers to, by key or thread, newest first
    referenced: tuple[IncidentState, ...] = ()
    silences: tuple[SilenceState, ...] = ()
    # open incidents on the CIs in Lookup.ancestor_cis
    ancestor_incidents: tuple[IncidentState, ...] = ()
    # occurrences of Lookup.correlation_key since Lookup.count_since (current one excluded)
    recent_count: int = 0
    # incident ids with this fingerprint or CI since Lookup.recent_incidents_since, newest first
    recent_incidents: tuple[int, ...] = ()
    # firing events answering Lookup.inhibit_queries
    firing_sources: tuple[FiringEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class IncidentFields:
    """Fields of the incident to open, or to change on an existing one."""

    title: str
    type: IncidentType = IncidentType.INCIDENT
    impact: int = 3  # 1 (enterprise-wide) .. 4 (one user)
    urgency: int = 3  # 1 (work stopped) .. 4 (can wait)
    priority: Priority = Priority.P3
    major: bool = False
    service: str = ""
    ci: str = ""
    environment: str = ""
    category: str = ""
    assignment_group: str = ""
    requester: str = ""
    owner: str = ""


@dataclass(frozen=True, slots=True)
class TimelineNote:
    kind: str  # e.g. "occurrence", "comment", "known_error", "escalation"
    text: str
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SlaDue:
    response_due: datetime | None
    resolution_due: datetime | None
    # the calendar of the target they were set from: stored with them, so the service
    # time of the incident is counted on it after the rules change
    calendar: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """Everything that should change because of one event. Pure data."""

    fingerprint: str
    correlation_key: str
    outcome: EventOutcome
    action: IncidentAction
    incident: IncidentFields
    event_status: StoredStatus | None = None  # the event's status as stored; None: as it came
    incident_id: int | None = None
    linked_incident_id: int | None = None
    suppressed_by: str = ""  # "silence:12", "maintenance:db-patch", "inhibit:switch-down"
    # sink names to forward to; a follow-up goes to every sink of the incident as well
    routes: tuple[str, ...] = ()
    sla: SlaDue | None = None
    notes: tuple[TimelineNote, ...] = ()
    matched_rules: tuple[str, ...] = ()
    rule_errors: tuple[str, ...] = ()  # rules that failed on this event and were skipped
    flapping: bool = False
    resolve_after: datetime | None = None  # resolve incident_id then, unless it fires again
    adopt_pending_since: datetime | None = None  # OPEN: attach the key's PENDING events since
    problem_candidate: bool = False
    related_incident_ids: tuple[int, ...] = ()  # earlier incidents of the same fingerprint/CI


def stored_status(event: Event, decision: Decision) -> StoredStatus:
    """The status the event is stored with: the decision's, else the one it came with."""
    return decision.event_status or StoredStatus.of(event.status)


def follow_up_routes(incident_routes: Iterable[str], new_routes: Iterable[str]) -> tuple[str, ...]:
    """Where a change to an incident goes (an update, comment, acknowledgement,
    resolution, closure): every sink that holds its ticket or was sent it, then the
    routes it did not have yet, each once."""
    return tuple(dict.fromkeys((*incident_routes, *new_routes)))


class RuleSet(Protocol):
    """A compiled, immutable rule set. Swapped whole on reload."""

    @property
    def version(self) -> str:
        """A short content hash of the sources it was compiled from."""
        ...

    @property
    def inhibit_labels(self) -> frozenset[str]:
        """The label names inhibit sources are looked up by (storage indexes them)."""
        ...

    def lookup(self, event: Event, now: datetime) -> Lookup: ...

    def evaluate(self, event: Event, state: State, now: datetime) -> Decision: ...
