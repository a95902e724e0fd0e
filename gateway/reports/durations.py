"""Time to acknowledge and to resolve, counted in one pass over the incidents of a
period: calendar seconds as the database computes them (storage.reports.clocks) and
service seconds by the incident's calendar, grouped by priority (and 'all') and the
time to resolve by the day incidents opened. Percentiles are nearest rank
(docs/reports.md), the same figures the SQL window functions gave."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from rules.service_time import ServiceClock

# an incident's service clock by priority, service and the calendar stored with it
ClockOf = Callable[[str, str, str | None], ServiceClock]
_MOMENTS = ("acknowledge", "resolve")


def nearest_rank(ordered: list[Any], share: float) -> Any:
    """The smallest value with at least ``share`` of the values at or below it."""
    if not ordered:
        return None
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def stats(values: list[float]) -> dict[str, float | int | None]:
    values.sort()
    return {
        "count": len(values),
        "median": nearest_rank(values, 0.5),
        "p90": nearest_rank(values, 0.9),
    }


class Durations:
    """Fed the incidents' rows a page at a time; ``clock`` gives an incident's service
    clock by (priority, service, stored calendar), or None to count calendar time only."""

    def __init__(self, clock: ClockOf | None) -> None:
        self._clock = clock
        self._calendar: dict[str, dict[str, list[Any]]] = {"acknowledge": {}, "resolve": {}}
        self._service: dict[str, dict[str, list[float]]] = {"acknowledge": {}, "resolve": {}}
        self._by_day: dict[str, list[Any]] = {}

    def add(self, row: Sequence[Any]) -> None:
        """A row of storage's ``Reports.clocks``, read by position in its column order:
        a driver's row read by name searches its column names at each read (sqlite3.Row),
        which was most of the time of a year's 100,000 rows."""
        _, _, priority, service, stored, opened, acknowledged, resolved, *spans, day = row
        clock = self._clock(priority, service, stored) if self._clock is not None else None
        for name, done, seconds in zip(_MOMENTS, (acknowledged, resolved), spans, strict=True):
            if seconds is None:
                continue
            calendar = self._calendar[name]
            calendar.setdefault(priority, []).append(seconds)
            calendar.setdefault("all", []).append(seconds)
            if name == "resolve":
                self._by_day.setdefault(day, []).append(seconds)
            if clock is not None:
                counted = clock.between(float(opened), float(done))
                service_seconds = self._service[name]
                service_seconds.setdefault(priority, []).append(counted)
                service_seconds.setdefault("all", []).append(counted)

    def figures(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "resolve_by_day": [
                {
                    "day": day,
                    "count": len(values),
                    "median": _seconds(nearest_rank(sorted(values), 0.5)),
                }
                for day, values in sorted(self._by_day.items())
            ]
        }
        for name, groups in self._calendar.items():
            found[name] = [
                {
                    "priority": group,
                    "count": len(values),
                    "calendar": _calendar(values),
                    "service": stats(self._service[name].get(group, [])),
                }
                for group, values in sorted(groups.items())
            ]
        return found


def _calendar(values: list[Any]) -> dict[str, float | None]:
    values.sort()
    return {
        "mean": _seconds(sum(values) / len(values)),
        "median": _seconds(nearest_rank(values, 0.5)),
        "p90": _seconds(nearest_rank(values, 0.9)),
    }
