"""The shape of a rule file, as pydantic models (the config edge).

Every file in config/rules/ may hold any of these sections; lists from all
files are joined in file-name order, and ``settings``, ``priority_matrix``
and ``sla`` may appear in one file only. Semantic checks (regexes, templates,
conditions, references) happen when the models are compiled (rules.compiler).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from core.records import Severity
from core.validation import Duration, Strict
from rules.decision import IncidentType, Priority
from rules.mail import ReplyToClosed, ReplyToResolved

Level = Annotated[int, Field(ge=1, le=4)]
MatchBlock = dict[str, Any]  # checked by rules.matchers.compile_block


class CorrelateSpec(Strict):
    key: str
    window: Duration | None = None


class ThresholdSpec(Strict):
    count: Annotated[int, Field(ge=2)]
    window: Duration


class FlappingSpec(Strict):
    transitions: Annotated[int, Field(ge=2)]
    window: Duration
    clear_at: Annotated[int, Field(ge=0)] | None = None  # default: half of transitions


class MajorSpec(Strict):
    priority_at_least: Priority | None = None
    critical_service: bool = False
    event_count_over: Annotated[int, Field(ge=0)] | None = None


class SetSpec(Strict):
    """Incident fields a rule sets; text values may be templates."""

    title: str | None = None
    service: str | None = None
    ci: str | None = None
    environment: str | None = None
    category: str | None = None
    assignment_group: str | None = None
    requester: str | None = None
    impact: Level | None = None
    urgency: Level | None = None
    type: IncidentType | None = None


class RuleSpec(Strict):
    name: Annotated[str, Field(min_length=1)]
    description: Annotated[str, Field(min_length=1)]
    match: MatchBlock = Field(default_factory=dict)
    when: str | None = None
    continue_: bool = Field(default=False, alias="continue")
    ignore: bool = False
    set: SetSpec | None = None
    priority: Priority | None = None
    raise_priority: Priority | None = None
    major: bool = False
    routes: list[str] = Field(default_factory=list)
    fingerprint: list[str] | str | None = None
    dedup_window: Duration | None = None
    correlate: CorrelateSpec | None = None
    topology: Literal["join", "inhibit"] | None = None
    threshold: ThresholdSpec | None = None
    flapping: FlappingSpec | None = None
    auto_resolve: bool | None = None
    resolve_hold_down: Duration | None = None
    reopen_window: Duration | None = None


class ProblemCandidateSpec(Strict):
    incidents: Annotated[int, Field(ge=2)]
    window: Duration


class ImpactUrgency(Strict):
    impact: Level
    urgency: Level


class SettingsSpec(Strict):
    dedup_window: Duration | None = None  # none: a repeat while firing is always a repeat
    reopen_window: Duration = timedelta(hours=24)
    auto_resolve: bool = True
    resolve_hold_down: Duration = timedelta(0)
    close_after: Duration = timedelta(days=7)
    reply_to_resolved: ReplyToResolved = ReplyToResolved.COMMENT
    reply_to_closed: ReplyToClosed = ReplyToClosed.NEW_INCIDENT
    # a reply that lost its key and References finds the incident of the same sender's
    # mail of the same subject within this long; none: only key and thread count
    reply_by_subject: Duration | None = timedelta(days=14)
    default_routes: list[str] = Field(default_factory=list)
    flapping: FlappingSpec | None = None
    major: MajorSpec | None = None
    problem_candidate: ProblemCandidateSpec | None = None
    severity_defaults: dict[Severity, ImpactUrgency] = Field(default_factory=dict)
    ci_from: list[str] = Field(
        default_factory=lambda: ["ci", "resource", "labels.instance", "labels.host"]
    )


class CalendarSpec(Strict):
    name: Annotated[str, Field(min_length=1)]
    timezone: str = "UTC"
    hours: dict[str, list[str] | str]
    country: str | None = None  # public holidays of a country or subdivision: CN, DE-BY
    holidays: list[date] = Field(default_factory=list)  # more days off
    working_days: list[date] = Field(default_factory=list)  # make-up working days


class SlaTargetSpec(Strict):
    priority: Priority
    service: str = ""
    calendar: str = "24x7"
    response: Duration | None = None
    resolution: Duration | None = None


class EscalationSpec(Strict):
    routes: list[str] = Field(default_factory=list)
    assignment_group: str = ""
    raise_priority: Priority | None = None


class SlaSpec(Strict):
    near_breach: Annotated[float, Field(gt=0, lt=1)] = 0.75
    targets: list[SlaTargetSpec]
    on_near_breach: EscalationSpec = Field(default_factory=EscalationSpec)
    on_breach: EscalationSpec = Field(default_factory=EscalationSpec)


class WeeklySpec(Strict):
    days: list[str]
    start: str
    duration: Duration
    timezone: str = "UTC"


class MaintenanceSpec(Strict):
    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    match: MatchBlock = Field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    timezone: str | None = None  # for start/end written without an offset
    weekly: WeeklySpec | None = None


class InhibitSpec(Strict):
    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    source: MatchBlock
    target: MatchBlock
    equal: list[str] = Field(default_factory=list)


class KnownErrorSpec(Strict):
    id: Annotated[str, Field(min_length=1)]
    title: str = ""
    match: MatchBlock = Field(default_factory=dict)
    when: str | None = None
    workaround: Annotated[str, Field(min_length=1)]
    problem: str = ""


class RuleFileSpec(Strict):
    settings: SettingsSpec | None = None
    priority_matrix: dict[int, list[Priority]] | None = None
    calendars: list[CalendarSpec] = Field(default_factory=list)
    sla: SlaSpec | None = None
    maintenance: list[MaintenanceSpec] = Field(default_factory=list)
    inhibit: list[InhibitSpec] = Field(default_factory=list)
    known_errors: list[KnownErrorSpec] = Field(default_factory=list)
    rules: list[RuleSpec] = Field(default_factory=list)
