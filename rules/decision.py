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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from parsers.records import Event, EventStatus, Severity


class IncidentStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self in (IncidentStatus.NEW, IncidentStatus.ACKNOWLEDGED)


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


@dataclass(frozen=True, slots=True)
class EventState:
    """The stored event for the looked-up fingerprint."""

    id: int
    fingerprint: str
    status: EventStatus
    severity: Severity
    count: int
    first_seen: datetime
    last_seen: datetime
    incident_id: int | None
    flapping: bool = False
    transitions: tuple[datetime, ...] = ()  # recent firing<->resolved changes, oldest first


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
    firing_events: int = 0  # events of this incident still firing


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


@dataclass(frozen=True, slots=True)
class TimelineNote:
    kind: str  # e.g. "occurrence", "comment", "known_error", "escalation"
    text: str
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SlaDue:
    response_due: datetime | None
    resolution_due: datetime | None


@dataclass(frozen=True, slots=True)
class Decision:
    """Everything that should change because of one event. Pure data."""

    fingerprint: str
    correlation_key: str
    outcome: EventOutcome
    action: IncidentAction
    incident: IncidentFields
    incident_id: int | None = None
    linked_incident_id: int | None = None
    suppressed_by: str = ""  # "silence:12", "maintenance:db-patch", "inhibit:switch-down"
    routes: tuple[str, ...] = ()  # sink names to forward to
    sla: SlaDue | None = None
    notes: tuple[TimelineNote, ...] = ()
    matched_rules: tuple[str, ...] = ()
    rule_errors: tuple[str, ...] = ()  # rules that failed on this event and were skipped
    flapping: bool = False


class RuleSet(Protocol):
    """A compiled, immutable rule set. Swapped whole on reload."""

    @property
    def version(self) -> str:
        """A short content hash of the sources it was compiled from."""
        ...

    def lookup(self, event: Event, now: datetime) -> Lookup: ...

    def evaluate(self, event: Event, state: State, now: datetime) -> Decision: ...
