"""An incident's SLA clocks as the console shows them: the due time, the service
time left on the calendar of its SLA target (a 5x8 calendar's clock does not run
at night or on holidays), or how long ago it passed, and whether it has stopped
(the response clock stops at acknowledgement, both at resolution)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rules.decision import Priority
from rules.engine import CompiledRuleSet


@dataclass(frozen=True, slots=True)
class Clock:
    name: str  # "response" or "resolution"
    due: str | None
    left: timedelta | None  # service time left; None when stopped or no due time
    overdue: timedelta | None  # wall time since it passed
    breached: bool
    stopped: bool
    calendar: str


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def clocks(incident: dict[str, Any], ruleset: CompiledRuleSet, now: datetime) -> list[Clock]:
    sla = incident["sla"]
    calendar = None
    if ruleset.sla is not None and incident["priority"] in Priority.__members__:
        # the calendar stored with the due times, while the rules define it; else the
        # calendar of the incident's target now
        priority = Priority(incident["priority"])
        stored = ruleset.sla.calendars.get(sla.get("calendar") or "")
        target = ruleset.sla.target(priority, incident["service"])
        calendar = stored or (target.calendar if target is not None else None)
    finished = incident["status"] in ("resolved", "closed")
    found = []
    for name, stopped in (
        ("response", finished or incident["acknowledged_at"] is not None),
        ("resolution", finished),
    ):
        due = _when(sla[f"{name}_due"])
        left = overdue = None
        if due is not None and not stopped:
            if due > now:
                left = calendar.elapsed(now, due) if calendar is not None else due - now
            else:
                overdue = now - due
        found.append(
            Clock(
                name,
                sla[f"{name}_due"],
                left,
                overdue,
                bool(sla[f"{name}_breached"]),
                stopped,
                calendar.name if calendar is not None else "",
            )
        )
    return found


def span(value: timedelta) -> tuple[int, int, int]:
    """Days, hours and minutes of a span, for the page to word."""
    minutes = int(value.total_seconds() // 60)
    return minutes // 1440, minutes % 1440 // 60, minutes % 60
