"""Compile the priority matrix, service-hour calendars and SLA targets."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import time

from holidays import HolidayBase, country_holidays, list_supported_countries

from core.yamldoc import Site
from rules.calendars import AlwaysOpen, Calendar, WorkingHours
from rules.compile_rules import day_range, parse_clock, zone
from rules.decision import Priority
from rules.priority import DEFAULT_MATRIX, PriorityMatrix, build_matrix
from rules.sla import EscalationAction, SlaTable, SlaTarget
from rules.spec import CalendarSpec, EscalationSpec, SlaSpec

BUILT_IN_CALENDAR = AlwaysOpen()


def compile_matrix(rows: Mapping[int, list[Priority]], site: Site) -> PriorityMatrix:
    matrix, problems = build_matrix(rows)
    for problem in problems:
        site.problem(problem)
    return matrix or DEFAULT_MATRIX


def compile_calendars(specs: list[tuple[CalendarSpec, Site]]) -> dict[str, Calendar]:
    calendars: dict[str, Calendar] = {BUILT_IN_CALENDAR.name: BUILT_IN_CALENDAR}
    for spec, site in specs:
        if spec.name in calendars:
            what = "is built in" if spec.name == BUILT_IN_CALENDAR.name else "is defined twice"
            site.at("name").problem(f'calendar "{spec.name}" {what}')
            continue
        calendar = _calendar(spec, site)
        if calendar is not None:
            calendars[spec.name] = calendar
    return calendars


def _calendar(spec: CalendarSpec, site: Site) -> WorkingHours | None:
    found = zone(spec.timezone, site.at("timezone"))
    by_day: dict[int, list[tuple[time, time]]] = {}
    ok = found is not None
    for key, ranges in spec.hours.items():
        entry = site.at("hours", key)
        days = day_range(key)
        if days is None:
            entry.problem(f'"{key}" is not a day; use mon..sun or a range like mon-fri')
            ok = False
            continue
        for text in [ranges] if isinstance(ranges, str) else ranges:
            interval = _interval(text, entry)
            if interval is None:
                ok = False
                continue
            for day in days:
                by_day.setdefault(day, []).append(interval)
    ok = _no_overlaps(spec.name, by_day, site.at("hours")) and ok
    if not by_day and ok:
        site.at("hours").problem(f'calendar "{spec.name}" has no service hours at all')
        ok = False
    if not ok or found is None:
        return None
    country = public_holidays(spec.country, site.at("country")) if spec.country else None
    if spec.country and country is None:
        return None
    hours = {day: tuple(sorted(ranges)) for day, ranges in by_day.items()}
    return WorkingHours(
        spec.name, found, hours, frozenset(spec.holidays), country, frozenset(spec.working_days)
    )


def public_holidays(code: str, site: Site) -> HolidayBase | None:
    """The public holidays of ``CN`` or ``DE-BY`` (country, then subdivision), any year."""
    country, _, subdivision = code.partition("-")
    supported = list_supported_countries()
    if country not in supported:
        site.problem(f'"{country}" is not a country code the holidays package knows (e.g. DE, CN)')
        return None
    if subdivision and subdivision not in supported[country]:
        known = ", ".join(supported[country]) or "none"
        site.problem(f'"{subdivision}" is not a subdivision of {country} (known: {known})')
        return None
    return country_holidays(country, subdiv=subdivision or None)


def _interval(text: str, site: Site) -> tuple[time, time] | None:
    start_text, separator, end_text = text.partition("-")
    if not separator:
        site.problem(f'"{text}" is not a time range; write it like 08:00-17:00')
        return None
    start, end = parse_clock(start_text, site), parse_clock(end_text, site)
    if start is None or end is None:
        return None
    if end != time(0) and end <= start:
        site.problem(f'"{text}" ends before it starts; split ranges that cross midnight')
        return None
    return start, end


def _minutes(moment: time, *, end: bool) -> int:
    if end and moment == time(0):
        return 24 * 60
    return moment.hour * 60 + moment.minute


def _no_overlaps(name: str, by_day: Mapping[int, list[tuple[time, time]]], site: Site) -> bool:
    ok = True
    for day, ranges in sorted(by_day.items()):
        ordered = sorted((_minutes(a, end=False), _minutes(b, end=True)) for a, b in ranges)
        for (_, first_end), (second_start, _) in itertools.pairwise(ordered):
            if second_start < first_end:
                site.problem(
                    f'calendar "{name}" has overlapping hours on {_DAY_NAMES[day]}; '
                    "each moment may be listed once"
                )
                ok = False
                break
    return ok


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def compile_sla(
    spec: SlaSpec | None, calendars: Mapping[str, Calendar], site: Site
) -> SlaTable | None:
    if spec is None:
        return None
    targets: dict[tuple[Priority, str], SlaTarget] = {}
    for index, target in enumerate(spec.targets):
        entry = site.at("targets", index)
        calendar = calendars.get(target.calendar)
        if calendar is None:
            entry.at("calendar").problem(
                f'calendar "{target.calendar}" is not defined '
                f"(known: {', '.join(sorted(calendars))})"
            )
            continue
        key = (target.priority, target.service)
        if key in targets:
            scope = f"service {target.service}" if target.service else "all services"
            entry.problem(f"a second SLA target for {target.priority} on {scope}")
            continue
        if target.response is None and target.resolution is None:
            entry.problem("an SLA target needs response, resolution or both")
            continue
        targets[key] = SlaTarget(calendar, target.response, target.resolution)
    return SlaTable(
        targets=targets,
        near_breach=spec.near_breach,
        on_near_breach=_escalation(spec.on_near_breach),
        on_breach=_escalation(spec.on_breach),
        calendars=calendars,
    )


def _escalation(spec: EscalationSpec) -> EscalationAction:
    return EscalationAction(tuple(spec.routes), spec.assignment_group, spec.raise_priority)
