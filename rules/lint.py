"""Warnings about rule sets that load but will not do what their author expects.

``check-config`` prints them; they never stop a load. Two kinds:

* a fingerprint or correlation key built from a field that differs between
  an alert's firing and resolved notices (a mail subject, a summary, the
  status, the value in an annotation): the recovery then gets a key of its
  own and never resolves what fired;
* a calendar without holidays in the current or the next year: its SLA
  clocks would count public holidays as service time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from core.yamldoc import Problems, Site
from rules.calendars import Calendar, WorkingHours
from rules.spec import CalendarSpec, RuleSpec
from rules.templates import TemplateError, compile_template

# Fields whose value is not the same in a problem notice and its recovery notice.
_UNSTABLE_FIELDS = {
    "summary": "the summary",
    "description": "the description",
    "status": "the status (firing or resolved)",
    "severity": "the severity (a recovery is ok or info)",
    "mail.subject": "the mail subject (PROBLEM ... / RECOVERY ...)",
    "mail.body": "the mail body",
    "mail.message_id": "the Message-ID (every mail has its own)",
}
_UNSTABLE_PREFIXES = {
    "annotations.": "an annotation (values and descriptions change with the alert)",
}


def unstable_field(name: str) -> str | None:
    """Why a field is unfit for a fingerprint or correlation key, or None if it is fit."""
    if name in _UNSTABLE_FIELDS:
        return _UNSTABLE_FIELDS[name]
    for prefix, why in _UNSTABLE_PREFIXES.items():
        if name.startswith(prefix):
            return why
    return None


def lint_rule_keys(rules: Iterable[tuple[RuleSpec, Site]], warnings: Problems) -> None:
    """Warn at each fingerprint or correlation key that reads an unstable field."""
    for spec, site in rules:
        to_warn = Site(site.doc, warnings, site.loc)
        if spec.fingerprint is not None:
            for name in _names(spec.fingerprint):
                _warn_unstable(name, "fingerprint", to_warn.at("fingerprint"))
        if spec.correlate is not None:
            for name in _names(spec.correlate.key):
                _warn_unstable(name, "correlation key", to_warn.at("correlate", "key"))


def _names(spec: list[str] | str) -> tuple[str, ...]:
    if isinstance(spec, list):
        return tuple(spec)
    try:
        return compile_template(spec).fields
    except (TemplateError, ValueError):
        return ()  # the compiler reports it as an error


def _warn_unstable(name: str, what: str, site: Site) -> None:
    why = unstable_field(name)
    if why is not None:
        site.problem(
            f'warning: the {what} uses "{name}", {why}, which differs between firing '
            "and resolved: a recovery would not find what fired; use fields that stay "
            "the same, such as resource, name or labels"
        )


@dataclass(frozen=True, slots=True)
class Lint:
    """Warnings found at load, plus the checks that need today's date."""

    static: tuple[str, ...] = ()
    calendars: tuple[tuple[str, WorkingHours], ...] = ()  # (file:line, calendar)

    def warnings(self, now: datetime) -> list[str]:
        found = list(self.static)
        for where, calendar in self.calendars:
            years = (now.year, now.year + 1)
            missing = [year for year in years if not calendar.has_holidays_in(year)]
            if missing:
                listed = " and ".join(str(year) for year in missing)
                found.append(
                    f'{where}: warning: calendar "{calendar.name}" has no holidays in '
                    f"{listed}, so its SLA clocks count holidays as service time; set "
                    "country (e.g. DE-BY, CN) or list the days under holidays"
                )
        return found


def calendar_lint(
    specs: Iterable[tuple[CalendarSpec, Site]], calendars: Mapping[str, Calendar]
) -> tuple[tuple[str, WorkingHours], ...]:
    found = []
    for spec, site in specs:
        calendar = calendars.get(spec.name)
        if isinstance(calendar, WorkingHours):
            found.append((site.doc.where(site.loc), calendar))
    return tuple(found)
