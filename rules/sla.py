"""SLA targets per priority (and service), due times, and near-breach/breach escalation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rules.calendars import AlwaysOpen, Calendar
from rules.decision import Priority, SlaDue, TimelineNote


@dataclass(frozen=True, slots=True)
class SlaTarget:
    calendar: Calendar
    response: timedelta | None
    resolution: timedelta | None


@dataclass(frozen=True, slots=True)
class EscalationAction:
    """What to do at a level: notify sinks, hand over, raise priority."""

    routes: tuple[str, ...] = ()
    assignment_group: str = ""
    raise_priority: Priority | None = None


@dataclass(frozen=True, slots=True)
class SlaClock:
    """What the periodic job knows of one open incident."""

    incident_id: int
    priority: Priority
    service: str
    opened_at: datetime
    response_due: datetime | None
    resolution_due: datetime | None
    responded: bool  # acknowledged: the response clock has stopped
    escalated: frozenset[str] = frozenset()  # levels done already, e.g. "response:near_breach"
    calendar: str = ""  # of the target the due times were set from ("": not stored)


@dataclass(frozen=True, slots=True)
class Escalation:
    incident_id: int
    clock: str  # "response" or "resolution"
    level: str  # "near_breach" or "breach"
    action: EscalationAction
    note: TimelineNote

    @property
    def key(self) -> str:
        """What storage adds to SlaClock.escalated so the level is not repeated."""
        return f"{self.clock}:{self.level}"


@dataclass(frozen=True, slots=True)
class SlaTable:
    """Targets by (priority, service); a service of "" is the default for the priority."""

    targets: Mapping[tuple[Priority, str], SlaTarget]
    near_breach: float  # fraction of the target after which it is near breach
    on_near_breach: EscalationAction
    on_breach: EscalationAction
    calendars: Mapping[str, Calendar] = field(default_factory=dict)  # every one, by name

    def target(self, priority: Priority, service: str) -> SlaTarget | None:
        return self.targets.get((priority, service)) or self.targets.get((priority, ""))

    def due(self, priority: Priority, service: str, start: datetime) -> SlaDue | None:
        target = self.target(priority, service)
        if target is None:
            return None
        return SlaDue(
            response_due=_after(target.calendar, start, target.response),
            resolution_due=_after(target.calendar, start, target.resolution),
            calendar=target.calendar.name,
        )

    def calendar(self, stored: str, priority: Priority, service: str) -> Calendar:
        """The calendar an incident's due times were set on (``stored``, its name), while
        the rules still define it; else that of its target now; else 24x7."""
        found = self.calendars.get(stored) if stored else None
        if found is not None:
            return found
        target = self.target(priority, service)
        return target.calendar if target is not None else _ALWAYS

    def escalations(self, clock: SlaClock, now: datetime) -> list[Escalation]:
        """Near-breach and breach levels reached at ``now`` and not yet escalated, from
        the due times as stored: a target changed since they were set moves neither."""
        calendar = self.calendar(clock.calendar, clock.priority, clock.service)
        found: list[Escalation] = []
        clocks = [("resolution", clock.resolution_due)]
        if not clock.responded:
            clocks.insert(0, ("response", clock.response_due))
        for name, due in clocks:
            level = self._level(calendar, clock.opened_at, due, now)
            if level is None or f"{name}:{level}" in clock.escalated:
                continue
            action = self.on_breach if level == "breach" else self.on_near_breach
            text = f"{name} target {'breached' if level == 'breach' else 'nearly breached'}"
            data = {"clock": name, "level": level, "due": due.isoformat() if due else ""}
            found.append(
                Escalation(
                    clock.incident_id, name, level, action, TimelineNote("escalation", text, data)
                )
            )
        return found

    def _level(
        self, calendar: Calendar, opened_at: datetime, due: datetime | None, now: datetime
    ) -> str | None:
        if due is None:
            return None
        if now >= due:
            return "breach"
        # the target's length is the service time from opening to the due time it set
        length = calendar.elapsed(opened_at, due)
        if now >= calendar.add(opened_at, length * self.near_breach):
            return "near_breach"
        return None


_ALWAYS = AlwaysOpen()


def _after(calendar: Calendar, start: datetime, length: timedelta | None) -> datetime | None:
    return None if length is None else calendar.add(start, length)
