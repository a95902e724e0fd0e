"""Load config/rules/*.yaml and the catalogue into one CompiledRuleSet, or say what is wrong.

Every problem in every file is collected and raised together as
``ConfigError`` with ``file:line: message`` entries, so an admin can fix a
rule set in one pass. An empty rules directory gives the defaults: one
incident per fingerprint, priority from severity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from core.errors import ConfigError
from core.validation import validate
from core.yamldoc import Problems, Site, read_yaml
from rules.catalogue import EMPTY_CATALOGUE, Catalogue, load_catalogue
from rules.compile_rules import (
    RuleCompiler,
    compile_inhibit,
    compile_known_error,
    compile_maintenance,
    flapping_policy,
)
from rules.compile_service_levels import compile_calendars, compile_matrix, compile_sla
from rules.decision import Priority
from rules.dedup import SourceFingerprint
from rules.draft import Policy
from rules.engine import CompiledRuleSet, Settings
from rules.enrich import CatalogueLookup
from rules.fields import field_getter
from rules.flapping import FlappingStage
from rules.known_errors import KnownError, RecurrencePolicy
from rules.lifecycle import LifecycleStage
from rules.lint import Lint, calendar_lint, lint_rule_keys
from rules.mail import IgnoreAutomaticMail, MailReplyStage
from rules.priority import DEFAULT_MATRIX, SEVERITY_DEFAULTS, MajorPolicy
from rules.rule import Action, Rule, RuleIgnoreStage
from rules.spec import (
    CalendarSpec,
    InhibitSpec,
    KnownErrorSpec,
    MaintenanceSpec,
    RuleFileSpec,
    RuleSpec,
    SettingsSpec,
    SlaSpec,
)
from rules.suppress import (
    InhibitRule,
    InhibitStage,
    MaintenanceStage,
    MaintenanceWindow,
    SilenceStage,
    TopologyInhibitStage,
)
from rules.verdict import Stage

Item = TypeVar("Item")
Compiled = TypeVar("Compiled")


@dataclass
class _Sections:
    """Every file's sections, joined in file-name order, each with where it came from."""

    settings: tuple[SettingsSpec, Site] | None = None
    matrix: tuple[dict[int, list[Priority]], Site] | None = None
    sla: tuple[SlaSpec, Site] | None = None
    calendars: list[tuple[CalendarSpec, Site]] = field(default_factory=list)
    maintenance: list[tuple[MaintenanceSpec, Site]] = field(default_factory=list)
    inhibit: list[tuple[InhibitSpec, Site]] = field(default_factory=list)
    known_errors: list[tuple[KnownErrorSpec, Site]] = field(default_factory=list)
    rules: list[tuple[RuleSpec, Site]] = field(default_factory=list)


def rule_files(rules_dir: Path) -> list[Path]:
    return sorted(
        (
            path
            for path in rules_dir.iterdir()
            if path.suffix in (".yaml", ".yml") and path.is_file()
        ),
        key=lambda path: path.name,
    )


def load_ruleset(rules_dir: Path, catalogue_path: Path | None) -> CompiledRuleSet:
    problems = Problems()
    digest = hashlib.sha256()
    catalogue = EMPTY_CATALOGUE
    if catalogue_path is not None:
        catalogue = load_catalogue(catalogue_path, problems)
        digest.update(_bytes(catalogue_path))
    if not rules_dir.is_dir():
        problems.add(f"{rules_dir}:1", "the rules directory does not exist")
        raise ConfigError(problems.as_list())
    sections = _Sections()
    for path in rule_files(rules_dir):
        digest.update(path.name.encode() + b"\x00" + _bytes(path))
        _read_into(sections, path, problems)
    ruleset = _compile(
        sections, catalogue, catalogue_path is not None, problems, digest.hexdigest()[:12]
    )
    warnings = Problems()
    lint_rule_keys(sections.rules, warnings)
    ruleset = replace(
        ruleset,
        lint=Lint(tuple(warnings.as_list()), calendar_lint(sections.calendars, ruleset.calendars)),
    )
    if problems:
        raise ConfigError(problems.as_list())
    return ruleset


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""  # the read error is reported by the parser


def _read_into(sections: _Sections, path: Path, problems: Problems) -> None:
    doc = read_yaml(path, problems)
    if doc is None:
        return
    spec = validate(RuleFileSpec, doc, problems)
    if spec is None:
        return
    site = Site(doc, problems)
    if spec.settings is not None:
        sections.settings = _once(sections.settings, spec.settings, site.at("settings"), "settings")
    if spec.priority_matrix is not None:
        sections.matrix = _once(
            sections.matrix, spec.priority_matrix, site.at("priority_matrix"), "priority_matrix"
        )
    if spec.sla is not None:
        sections.sla = _once(sections.sla, spec.sla, site.at("sla"), "sla")
    sections.calendars += _sited(spec.calendars, site.at("calendars"))
    sections.maintenance += _sited(spec.maintenance, site.at("maintenance"))
    sections.inhibit += _sited(spec.inhibit, site.at("inhibit"))
    sections.known_errors += _sited(spec.known_errors, site.at("known_errors"))
    sections.rules += _sited(spec.rules, site.at("rules"))


def _once(
    earlier: tuple[Item, Site] | None, value: Item, site: Site, name: str
) -> tuple[Item, Site]:
    if earlier is not None:
        first = earlier[1]
        site.problem(f'"{name}" is already set in {first.doc.where(first.loc)}; keep one')
        return earlier
    return value, site


def _sited(items: list[Item], site: Site) -> list[tuple[Item, Site]]:
    return [(item, site.at(index)) for index, item in enumerate(items)]


def _compile_all(
    entries: list[tuple[Item, Site]],
    name_of: str,
    what: str,
    compile_one: Callable[[Item, Site], Compiled | None],
) -> tuple[Compiled, ...]:
    """Compile entries in order; a name used twice is a problem (names identify them)."""
    seen: dict[str, Site] = {}
    compiled: list[Compiled] = []
    for spec, site in entries:
        name = str(getattr(spec, name_of))
        if name in seen:
            first = seen[name]
            site.at(name_of).problem(
                f'{what} "{name}" is already defined at {first.doc.where(first.loc)}'
            )
            continue
        seen[name] = site
        result = compile_one(spec, site)
        if result is not None:
            compiled.append(result)
    return tuple(compiled)


def _compile(
    sections: _Sections,
    catalogue: Catalogue,
    has_catalogue: bool,
    problems: Problems,
    version: str,
) -> CompiledRuleSet:
    settings_spec, settings_site = sections.settings or (SettingsSpec(), None)
    catalogue_lookup = (
        _catalogue_lookup(settings_spec, catalogue, settings_site) if has_catalogue else None
    )
    compiler = RuleCompiler(catalogue_lookup)
    rules: tuple[Rule, ...] = _compile_all(sections.rules, "name", "rule", compiler.compile)
    known: tuple[KnownError, ...] = _compile_all(
        sections.known_errors, "id", "known error", compile_known_error
    )
    inhibit: tuple[InhibitRule, ...] = _compile_all(
        sections.inhibit, "name", "inhibit rule", compile_inhibit
    )
    windows: tuple[MaintenanceWindow, ...] = _compile_all(
        sections.maintenance, "name", "maintenance window", compile_maintenance
    )
    calendars = compile_calendars(sections.calendars)
    sla = compile_sla(sections.sla[0], calendars, sections.sla[1]) if sections.sla else None
    matrix = compile_matrix(*sections.matrix) if sections.matrix else DEFAULT_MATRIX
    prelude: tuple[Action, ...] = (catalogue_lookup,) if catalogue_lookup else ()
    return CompiledRuleSet(
        version=version,
        settings=_settings(settings_spec),
        prelude=prelude,
        rules=rules,
        stages=_stages(settings_spec, windows, inhibit, catalogue),
        lifecycle=LifecycleStage(catalogue),
        inhibit_rules=inhibit,
        known_errors=known,
        matrix=matrix,
        sla=sla,
        catalogue=catalogue,
        calendars=calendars,
    )


def _catalogue_lookup(
    spec: SettingsSpec, catalogue: Catalogue, site: Site | None
) -> CatalogueLookup | None:
    getters = []
    for index, name in enumerate(spec.ci_from):
        try:
            getters.append(field_getter(name))
        except ValueError as exc:
            if site is not None:
                site.at("ci_from", index).problem(str(exc))
    return CatalogueLookup(catalogue, tuple(getters))


def _settings(spec: SettingsSpec) -> Settings:
    defaults = Policy(
        fingerprint=SourceFingerprint(),
        dedup_window=spec.dedup_window,
        correlation=None,
        topology="",
        threshold=None,
        flapping=flapping_policy(spec.flapping) if spec.flapping else None,
        auto_resolve=spec.auto_resolve,
        resolve_hold_down=spec.resolve_hold_down,
        reopen_window=spec.reopen_window,
    )
    severity_defaults = dict(SEVERITY_DEFAULTS)
    for severity, levels in spec.severity_defaults.items():
        severity_defaults[severity] = (levels.impact, levels.urgency)
    major = spec.major
    recurrence = spec.problem_candidate
    return Settings(
        defaults=defaults,
        severity_defaults=severity_defaults,
        default_routes=tuple(spec.default_routes),
        major=MajorPolicy(major.priority_at_least, major.critical_service, major.event_count_over)
        if major
        else None,
        recurrence=RecurrencePolicy(recurrence.incidents, recurrence.window)
        if recurrence
        else None,
        close_after=spec.close_after,
        reply_by_subject=spec.reply_by_subject,
    )


def _stages(
    spec: SettingsSpec,
    windows: tuple[MaintenanceWindow, ...],
    inhibit: tuple[InhibitRule, ...],
    catalogue: Catalogue,
) -> tuple[Stage, ...]:
    """Stages in the order they decide: mail first, suppression before flapping."""
    stages: list[Stage] = [
        IgnoreAutomaticMail(),
        MailReplyStage(spec.reply_to_resolved, spec.reply_to_closed),
        RuleIgnoreStage(),
        SilenceStage(),
    ]
    if windows:
        stages.append(MaintenanceStage(windows))
    if inhibit:
        stages.append(InhibitStage(inhibit))
    if catalogue.cis:
        stages.append(TopologyInhibitStage(catalogue))
    stages.append(FlappingStage())
    return tuple(stages)
