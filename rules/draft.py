"""The event as the rules see it while they run: enriched fields and chosen policies.

A Draft is created per evaluation and thrown away after it; it is the only
mutable object in the engine. Compiled rules write into it, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.records import Event
from rules.decision import IncidentType, Priority

if TYPE_CHECKING:
    from rules.correlate import Correlation, Threshold
    from rules.dedup import Fingerprinter
    from rules.flapping import FlappingPolicy


@dataclass(frozen=True, slots=True)
class Policy:
    """How the lifecycle treats the event; settings give the defaults, rules override."""

    fingerprint: Fingerprinter
    dedup_window: timedelta | None
    correlation: Correlation | None
    topology: str  # "", "join" or "inhibit"
    threshold: Threshold | None
    flapping: FlappingPolicy | None
    auto_resolve: bool
    resolve_hold_down: timedelta
    reopen_window: timedelta


@dataclass(slots=True)
class Draft:
    event: Event
    now: datetime
    policy: Policy
    title: str
    impact: int
    urgency: int
    service: str = ""
    ci: str = ""
    environment: str = ""
    category: str = ""
    assignment_group: str = ""
    owner: str = ""
    requester: str = ""
    type: IncidentType = IncidentType.INCIDENT
    priority: Priority | None = None  # set outright by a rule
    priority_floor: Priority | None = None  # "at least" from raise_priority
    major: bool = False
    ignore: bool = False
    routes: list[str] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    explicit: set[str] = field(default_factory=set)  # fields a rule set on purpose
    catalogue_ci: str = ""  # the CI the catalogue matched, "" when none
    expression_context: Any = None  # built lazily by rules.expressions

    def set_field(self, name: str, value: str | int | IncidentType) -> None:
        setattr(self, name, value)
        self.explicit.add(name)
        self.expression_context = None  # expressions must see the new value

    def add_routes(self, routes: tuple[str, ...]) -> None:
        for route in routes:
            if route not in self.routes:
                self.routes.append(route)
