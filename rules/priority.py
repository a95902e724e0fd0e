"""Priority from the impact x urgency matrix, and the ``major`` flag."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.records import Severity
from rules.decision import Priority

LEVELS = (1, 2, 3, 4)  # impact and urgency: 1 is the widest / most pressing


@dataclass(frozen=True, slots=True)
class PriorityMatrix:
    cells: Mapping[tuple[int, int], Priority]

    def priority(self, impact: int, urgency: int) -> Priority:
        return self.cells[(impact, urgency)]


# The ITIL textbook matrix; rows are impact 1..4, columns urgency 1..4.
DEFAULT_MATRIX = PriorityMatrix(
    {
        (impact, urgency): Priority(cell)
        for impact, row in zip(
            LEVELS,
            (
                ("P1", "P1", "P2", "P3"),
                ("P1", "P2", "P3", "P3"),
                ("P2", "P3", "P3", "P4"),
                ("P3", "P3", "P4", "P4"),
            ),
            strict=True,
        )
        for urgency, cell in zip(LEVELS, row, strict=True)
    }
)

# Impact and urgency an event starts with before rules set them; with the
# default matrix this gives critical -> P1, high -> P2, medium -> P3, else P4.
SEVERITY_DEFAULTS: Mapping[Severity, tuple[int, int]] = {
    Severity.CRITICAL: (1, 1),
    Severity.HIGH: (2, 2),
    Severity.MEDIUM: (3, 3),
    Severity.LOW: (4, 3),
    Severity.INFO: (4, 4),
}


def build_matrix(rows: Mapping[int, Sequence[Priority]]) -> tuple[PriorityMatrix | None, list[str]]:
    """A matrix from ``{impact: [priority for urgency 1..4]}``, or the gaps found."""
    problems = [
        f"the priority matrix has no row for impact {impact}"
        for impact in LEVELS
        if impact not in rows
    ]
    problems += [
        f"the priority matrix has impact {impact}, but impact goes from 1 to 4"
        for impact in rows
        if impact not in LEVELS
    ]
    for impact in LEVELS:
        row = rows.get(impact)
        if row is not None and len(row) != len(LEVELS):
            problems.append(
                f"impact {impact} needs exactly 4 priorities, for urgency 1, 2, 3 and 4 "
                f"(it has {len(row)})"
            )
    if problems:
        return None, problems
    cells = {
        (impact, urgency): rows[impact][urgency - 1] for impact in LEVELS for urgency in LEVELS
    }
    return PriorityMatrix(cells), []


def more_urgent(first: Priority, second: Priority | None) -> Priority:
    if second is None:
        return first
    return first if first.rank <= second.rank else second


@dataclass(frozen=True, slots=True)
class MajorPolicy:
    """When an incident is major: every condition given must hold."""

    priority_at_least: Priority | None = None
    critical_service: bool = False
    event_count_over: int | None = None

    def applies(self, priority: Priority, service_is_critical: bool, event_count: int) -> bool:
        if self.priority_at_least is not None and priority.rank > self.priority_at_least.rank:
            return False
        if self.critical_service and not service_is_critical:
            return False
        return self.event_count_over is None or event_count > self.event_count_over

    @property
    def is_empty(self) -> bool:
        return (
            self.priority_at_least is None
            and not self.critical_service
            and self.event_count_over is None
        )
