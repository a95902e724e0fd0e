"""Compile validated rule-file models into frozen rule objects, reporting every problem."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.yamldoc import Site
from rules.correlate import Correlation, Threshold
from rules.dedup import FieldsFingerprint, Fingerprinter, TemplateFingerprint
from rules.enrich import CatalogueLookup, SetText, SetValue
from rules.expressions import Condition, ExpressionError, compile_condition
from rules.fields import field_getter
from rules.flapping import FlappingPolicy
from rules.known_errors import KnownError
from rules.matchers import MatcherError, Predicate, all_of, compile_entry
from rules.rule import (
    Action,
    AddRoutes,
    Ignore,
    MarkMajor,
    RaisePriority,
    Rule,
    SetPolicy,
    SetPriority,
)
from rules.spec import (
    FlappingSpec,
    InhibitSpec,
    KnownErrorSpec,
    MaintenanceSpec,
    RuleSpec,
    SetSpec,
    WeeklySpec,
)
from rules.suppress import InhibitRule, MaintenanceWindow, OneOff, Schedule, Weekly
from rules.templates import Template, TemplateError, compile_template

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def compile_match(
    block: Mapping[str, Any], site: Site, *, bare_names_are_labels: bool = False
) -> Predicate | None:
    predicates: list[Predicate] = []
    ok = True
    for name, spec in block.items():
        try:
            predicates += compile_entry(name, spec, bare_names_are_labels=bare_names_are_labels)
        except MatcherError as exc:
            site.at(name).problem(str(exc))
            ok = False
    return all_of(predicates) if ok else None


def compile_when(text: str | None, site: Site) -> tuple[Condition | None, bool]:
    """The CEL condition (None when absent) and whether it compiled."""
    if text is None:
        return None, True
    try:
        return compile_condition(text), True
    except ExpressionError as exc:
        site.problem(str(exc))
        return None, False


def compile_text(text: str, site: Site) -> Template | None:
    try:
        return compile_template(text)
    except TemplateError as exc:
        site.problem(f"template {text!r}: {exc}")
        return None


def zone(name: str, site: Site) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        site.problem(f'unknown time zone "{name}"; use a name like Europe/Berlin or UTC')
        return None


def flapping_policy(spec: FlappingSpec) -> FlappingPolicy:
    clear_at = spec.transitions // 2 if spec.clear_at is None else spec.clear_at
    return FlappingPolicy(spec.transitions, spec.window, clear_at)


class RuleCompiler:
    """Compiles rules against one catalogue lookup (or none)."""

    def __init__(self, catalogue_lookup: CatalogueLookup | None) -> None:
        self._catalogue_lookup = catalogue_lookup

    def compile(self, spec: RuleSpec, site: Site) -> Rule | None:
        predicate = compile_match(spec.match, site.at("match"))
        condition, condition_ok = compile_when(spec.when, site.at("when"))
        actions = self._actions(spec, site)
        if predicate is None or not condition_ok or actions is None:
            return None
        return Rule(
            name=spec.name,
            description=spec.description,
            predicate=predicate,
            condition=condition,
            actions=actions,
            continue_matching=spec.continue_,
            where=site.doc.where(site.loc),
        )

    def _actions(self, spec: RuleSpec, site: Site) -> tuple[Action, ...] | None:
        actions: list[Action] = []
        ok = True
        if spec.set is not None:
            setters = _setters(spec.set, site.at("set"))
            ok = setters is not None
            actions += setters or []
            touches_catalogue = spec.set.ci is not None or spec.set.service is not None
            if touches_catalogue and self._catalogue_lookup is not None:
                actions.append(self._catalogue_lookup)
        changes = self._policy_changes(spec, site)
        if changes is None:
            ok = False
        elif changes:
            actions.append(SetPolicy(tuple(changes.items())))
        if spec.priority is not None:
            actions.append(SetPriority(spec.priority))
        if spec.raise_priority is not None:
            actions.append(RaisePriority(spec.raise_priority))
        if spec.major:
            actions.append(MarkMajor())
        if spec.routes:
            actions.append(AddRoutes(tuple(spec.routes)))
        if spec.ignore:
            actions.append(Ignore())
        return tuple(actions) if ok else None

    def _policy_changes(self, spec: RuleSpec, site: Site) -> dict[str, Any] | None:
        changes: dict[str, Any] = {}
        ok = True
        if spec.fingerprint is not None:
            fingerprint = _fingerprinter(spec.fingerprint, site.at("fingerprint"))
            ok = fingerprint is not None
            changes["fingerprint"] = fingerprint
        if spec.correlate is not None:
            key = compile_text(spec.correlate.key, site.at("correlate", "key"))
            ok = ok and key is not None
            if key is not None:
                changes["correlation"] = Correlation(key, spec.correlate.window)
        if spec.topology is not None:
            if self._catalogue_lookup is None:
                site.at("topology").problem(
                    "topology needs the service catalogue (config/catalogue.yaml) with CI "
                    "dependencies"
                )
                ok = False
            changes["topology"] = spec.topology
        if spec.threshold is not None:
            changes["threshold"] = Threshold(spec.threshold.count, spec.threshold.window)
        if spec.flapping is not None:
            changes["flapping"] = flapping_policy(spec.flapping)
        for name in ("dedup_window", "auto_resolve", "resolve_hold_down", "reopen_window"):
            value = getattr(spec, name)
            if value is not None:
                changes[name] = value
        return changes if ok else None


def _setters(spec: SetSpec, site: Site) -> list[Action] | None:
    actions: list[Action] = []
    ok = True
    for name, value in spec.model_dump(exclude_none=True).items():
        if isinstance(value, str) and name != "type":
            template = compile_text(value, site.at(name))
            ok = ok and template is not None
            if template is not None:
                actions.append(SetText(name, template))
        else:
            actions.append(SetValue(name, value))
    return actions if ok else None


def _fingerprinter(spec: list[str] | str, site: Site) -> Fingerprinter | None:
    if isinstance(spec, str):
        template = compile_text(spec, site)
        return TemplateFingerprint(template) if template is not None else None
    if not spec:
        site.problem("fingerprint needs at least one field")
        return None
    getters = []
    for index, name in enumerate(spec):
        try:
            getters.append(field_getter(name))
        except ValueError as exc:
            site.at(index).problem(str(exc))
    if len(getters) != len(spec):
        return None
    return FieldsFingerprint(tuple(spec), tuple(getters))


def compile_known_error(spec: KnownErrorSpec, site: Site) -> KnownError | None:
    predicate = compile_match(spec.match, site.at("match"))
    condition, condition_ok = compile_when(spec.when, site.at("when"))
    if not spec.match and spec.when is None:
        site.problem(f'known error "{spec.id}" needs "match" or "when", or it matches everything')
        return None
    if predicate is None or not condition_ok:
        return None
    return KnownError(spec.id, spec.title, predicate, condition, spec.workaround, spec.problem)


def compile_inhibit(spec: InhibitSpec, site: Site) -> InhibitRule | None:
    source = compile_match(spec.source, site.at("source"), bare_names_are_labels=True)
    target = compile_match(spec.target, site.at("target"), bare_names_are_labels=True)
    source_labels = tuple(
        (name.removeprefix("labels."), str(value))
        for name, value in spec.source.items()
        if isinstance(value, str | int) and _is_label(name)
    )
    if not source_labels and not spec.equal:
        site.problem(
            f'inhibit rule "{spec.name}" needs an "equal" list or a source label with a '
            "plain value, so that only related alerts are compared"
        )
        return None
    if source is None or target is None:
        return None
    equal = tuple(name.removeprefix("labels.") for name in spec.equal)
    return InhibitRule(spec.name, source, target, equal, source_labels)


def _is_label(name: str) -> bool:
    if name.startswith("labels."):
        return True
    try:
        field_getter(name)
    except ValueError:
        return "." not in name
    return False


def compile_maintenance(spec: MaintenanceSpec, site: Site) -> MaintenanceWindow | None:
    predicate = compile_match(spec.match, site.at("match"))
    schedule = _schedule(spec, site)
    if predicate is None or schedule is None:
        return None
    return MaintenanceWindow(spec.name, predicate, schedule)


def _schedule(spec: MaintenanceSpec, site: Site) -> Schedule | None:
    one_off = spec.start is not None or spec.end is not None
    if one_off == (spec.weekly is not None):
        site.problem(f'maintenance "{spec.name}" needs either start and end, or weekly (not both)')
        return None
    if spec.weekly is not None:
        return _weekly(spec.weekly, site.at("weekly"))
    if spec.start is None or spec.end is None:
        site.problem(f'maintenance "{spec.name}" needs both start and end')
        return None
    start = _aware(spec.start, spec.timezone, site.at("start"))
    end = _aware(spec.end, spec.timezone, site.at("end"))
    if start is None or end is None:
        return None
    if end <= start:
        site.at("end").problem(f'maintenance "{spec.name}" ends before it starts')
        return None
    return OneOff(start, end)


def _aware(moment: datetime, zone_name: str | None, site: Site) -> datetime | None:
    if moment.tzinfo is not None:
        return moment
    if zone_name is None:
        site.problem("give the time with an offset (2025-03-01T22:00:00+01:00) or set timezone")
        return None
    found = zone(zone_name, site)
    return moment.replace(tzinfo=found) if found else None


def _weekly(spec: WeeklySpec, site: Site) -> Weekly | None:
    days = parse_days(spec.days, site.at("days"))
    start = parse_clock(spec.start, site.at("start"))
    found = zone(spec.timezone, site.at("timezone"))
    if days is None or start is None or found is None:
        return None
    if not spec.duration:
        site.at("duration").problem("duration must be longer than zero")
        return None
    return Weekly(frozenset(days), start, spec.duration, found)


def parse_days(names: list[str], site: Site) -> list[int] | None:
    """``[mon, wed]`` or ``[mon-fri]`` as weekday numbers (Monday is 0)."""
    days: list[int] = []
    for index, name in enumerate(names):
        found = day_range(name)
        if found is None:
            site.at(index).problem(f'"{name}" is not a day; use mon..sun or a range like mon-fri')
            return None
        days += found
    return days


def day_range(text: str) -> list[int] | None:
    first, _, last = text.strip().lower().partition("-")
    if first not in WEEKDAYS or (last and last not in WEEKDAYS):
        return None
    start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
    if end < start:
        return [*range(start, 7), *range(0, end + 1)]
    return list(range(start, end + 1))


def parse_clock(text: str, site: Site) -> time | None:
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
        if hours == 24 and minutes == 0:
            return time(0)
        return time(hours, minutes)
    except ValueError:
        site.problem(f'"{text}" is not a time of day; write HH:MM such as 08:00')
        return None
