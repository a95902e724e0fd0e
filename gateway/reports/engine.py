"""The reports, put together: the database's figures (storage.reports) plus what only a
service calendar can count (service time between two moments, from rules.calendars,
the code that set the due times). docs/reports.md defines every figure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from gateway.reports.durations import ClockOf, Durations
from rules.calendars import AlwaysOpen, Calendar
from rules.decision import Priority
from rules.engine import CompiledRuleSet
from rules.service_time import MARGIN, ServiceClock
from storage import Period, Reports, as_time

_ALWAYS = AlwaysOpen()
_TIME_COLUMNS = ("created_at", "resolved_at", "due", "done_at")


def _time_text(value: Any) -> Any:
    moment = as_time(value) if value is not None else None
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _with_times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {key: _time_text(value) if key in _TIME_COLUMNS else value for key, value in row.items()}
        for row in rows
    ]


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


class ReportEngine:
    def __init__(
        self,
        reports: Reports,
        ruleset: Callable[[], CompiledRuleSet],
        clock: Callable[[], datetime],
    ) -> None:
        self._reports = reports
        self._ruleset = ruleset
        self._clock = clock

    def calendar(self, priority: str, service: str, stored: str | None = None) -> Calendar:
        """The calendar of the SLA target the incident's due times were set from
        (``stored``, its name, while the rules define it), else of its target now;
        24x7 when it has none."""
        table = self._ruleset().sla
        if table is None or priority not in Priority.__members__:
            return _ALWAYS
        return table.calendar(stored or "", Priority(priority), service)

    def clocks(self, period: Period) -> ClockOf:
        """The service clock of an incident's calendar, laid out once per calendar over
        the period (and a margin past it, for incidents resolved after it ends)."""
        made: dict[int, ServiceClock] = {}
        # by priority, service and the calendar stored with the incident
        known: dict[tuple[str, str, str | None], ServiceClock] = {}

        def clock(priority: str, service: str, stored: str | None) -> ServiceClock:
            found = known.get((priority, service, stored))
            if found is not None:
                return found
            calendar = self.calendar(priority, service, stored)
            found = made.get(id(calendar))
            if found is None:
                found = ServiceClock(calendar, period.start, period.end + MARGIN)
                made[id(calendar)] = found
            known[(priority, service, stored)] = found
            return found

        return clock

    async def service_known(self, service: str) -> bool:
        if service in self._ruleset().catalogue.services:
            return True
        return await self._reports.service_known(service)

    async def volumes(self, period: Period) -> dict[str, Any]:
        return await self._reports.volumes(period)

    async def offenders(self, period: Period) -> dict[str, Any]:
        return await self._reports.offenders(period)

    async def noise(self, period: Period) -> dict[str, Any]:
        return await self._reports.noise(period)

    async def mttr(self, period: Period) -> dict[str, Any]:
        """Time to acknowledge and to resolve: calendar seconds (SQL) and service
        seconds (the incident's calendar), by priority and over all; one pass over
        the incidents of the period."""
        counted = Durations(self.clocks(period))
        async for page in self._reports.clocks(period):
            for row in page:
                counted.add(row)
        return counted.figures()

    def targets(self) -> list[dict[str, Any]]:
        table = self._ruleset().sla
        if table is None:
            return []
        return [
            {
                "priority": priority.value,
                "service": service,
                "calendar": target.calendar.name,
                "response_seconds": _span(target.response),
                "resolution_seconds": _span(target.resolution),
            }
            for (priority, service), target in sorted(table.targets.items())
        ]

    async def sla(self, period: Period) -> dict[str, Any]:
        found = await self._reports.sla(period, self._clock())
        groups = _groups(found["groups"])
        breaches = []
        now = self._clock()
        clocks = self.clocks(period)
        for row in found["breaches"]:
            due, done = as_time(row["due"]), as_time(row["done_at"]) or now
            assert due is not None
            hours = clocks(row["priority"], row["service"], row["calendar"])
            over = hours.between(due.timestamp(), done.timestamp())
            breaches.append(
                {
                    **_with_times([row])[0],
                    "calendar": hours.calendar.name,
                    "over_seconds": _seconds(row["over_seconds"]),
                    "over_service_seconds": over,
                }
            )
        return {"targets": self.targets(), "groups": groups, "breaches": breaches}

    async def lifecycle(self, period: Period) -> dict[str, Any]:
        found = await self._reports.lifecycle(period)
        counts = found["counts"]
        resolved = counts["resolved"]
        counts["reopen_rate"] = (
            round(100.0 * counts["reopened"] / resolved, 2) if resolved else None
        )
        return {"counts": counts, "major_incidents": _with_times(found["major_incidents"])}

    async def summary(self, period: Period) -> dict[str, Any]:
        """The key figures: what they need of each report, and no more (no lists of
        breaches or occurrences by outcome, no service time)."""
        by_priority = await self._reports.incidents_by("priority", period)
        total = sum(int(row["count"]) for row in by_priority)
        lifecycle = await self.lifecycle(period)
        groups = _groups((await self._reports.sla(period, self._clock(), listed=False))["groups"])
        noise = {**await self._reports.noise_counts(period), "incidents": total}
        acknowledged = await self._reports.median(period, "acknowledged_at")
        resolved = await self._reports.median(period, "resolved_at")
        return {
            "period": period_json(period),
            "incidents": total,
            "by_priority": by_priority,
            **lifecycle["counts"],
            "mtta_median_seconds": None if acknowledged is None else round(acknowledged, 3),
            "mttr_median_seconds": None if resolved is None else round(resolved, 3),
            "sla": _compliance_by_priority(groups),
            # as many as the SLA report lists: up to Reports.listed of each clock
            "breaches": sum(
                min(sum(group[f"{clock}_breached"] for group in groups), Reports.listed)
                for clock in ("response", "resolution")
            ),
            "noise": {key: noise[key] for key in ("intake_records", "events", "incidents")},
            "satisfaction": _satisfaction(await self._reports.ratings(period)),
        }


def _satisfaction(by_score: dict[int, int]) -> dict[str, Any]:
    """The requesters' ratings (the survey on resolution): how many, mean, by score."""
    count = sum(by_score.values())
    total = sum(score * n for score, n in by_score.items())
    return {
        "ratings": count,
        "average": round(total / count, 2) if count else None,
        "by_score": {str(score): by_score.get(score, 0) for score in range(1, 6)},
    }


def _groups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SLA groups with counts as ints and the compliance of each clock."""
    groups = []
    for row in rows:
        group = {
            key: int(value or 0) if key != "priority" and key != "service" else value
            for key, value in row.items()
        }
        groups.append(_with_compliance(group))
    return groups


def _with_compliance(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with the compliance of each clock, from its measured and breached."""
    for clock in ("response", "resolution"):
        measured, breached = row[f"{clock}_measured"], row[f"{clock}_breached"]
        row[f"{clock}_compliance"] = (
            round(100.0 * (measured - breached) / measured, 2) if measured else None
        )
    return row


def _span(length: timedelta | None) -> float | None:
    return None if length is None else length.total_seconds()


def _compliance_by_priority(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Compliance per priority over every service."""
    totals: dict[str, dict[str, int]] = {}
    for group in groups:
        into = totals.setdefault(group["priority"], {})
        for key in (
            "response_measured",
            "response_breached",
            "resolution_measured",
            "resolution_breached",
        ):
            into[key] = into.get(key, 0) + group[key]
    found = []
    for priority, into in sorted(totals.items()):
        found.append(_with_compliance({"priority": priority, **into}))
    return found


def period_json(period: Period) -> dict[str, Any]:
    return {
        "from": _time_text(period.start),
        "to": _time_text(period.end),
        "service": period.service,
        "priority": period.priority,
    }
