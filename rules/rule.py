"""A compiled rule: a condition and a tuple of actions, each with one ``apply``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from rules.decision import EventOutcome, IncidentAction, Priority
from rules.draft import Draft
from rules.expressions import Condition, RuleFailure
from rules.matchers import Predicate
from rules.verdict import Evaluation, Verdict


class Action(Protocol):
    def apply(self, draft: Draft) -> None: ...


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    description: str
    predicate: Predicate  # the simple matchers, checked first because they are cheap
    condition: Condition | None  # the CEL ``when:``, if any
    actions: tuple[Action, ...]
    continue_matching: bool  # like Alertmanager routes: stop after a match unless true
    where: str = ""  # file:line of its definition, for explanations and reports

    def matches(self, draft: Draft) -> bool:
        if not self.predicate(draft):
            return False
        return self.condition is None or self.condition.matches(draft)

    def apply(self, draft: Draft) -> None:
        for action in self.actions:
            action.apply(draft)


def run_rules(rules: tuple[Rule, ...], draft: Draft) -> None:
    """Apply matching rules in order; a rule that fails is skipped and recorded."""
    for rule in rules:
        try:
            if not rule.matches(draft):
                continue
        except RuleFailure as exc:
            draft.errors.append(f"{rule.name}: {exc}")
            continue
        rule.apply(draft)
        draft.matched.append(rule.name)
        if not rule.continue_matching:
            return


@dataclass(frozen=True, slots=True)
class SetPolicy:
    """Override lifecycle settings (fingerprint, windows, correlation...) for the event."""

    changes: tuple[tuple[str, Any], ...]

    def apply(self, draft: Draft) -> None:
        draft.policy = replace(draft.policy, **dict(self.changes))


@dataclass(frozen=True, slots=True)
class AddRoutes:
    routes: tuple[str, ...]

    def apply(self, draft: Draft) -> None:
        draft.add_routes(self.routes)


@dataclass(frozen=True, slots=True)
class SetPriority:
    priority: Priority

    def apply(self, draft: Draft) -> None:
        draft.priority = self.priority


@dataclass(frozen=True, slots=True)
class RaisePriority:
    """At least this priority; never lowers one that is already more urgent."""

    floor: Priority

    def apply(self, draft: Draft) -> None:
        current = draft.priority_floor
        if current is None or self.floor.rank < current.rank:
            draft.priority_floor = self.floor


@dataclass(frozen=True, slots=True)
class MarkMajor:
    def apply(self, draft: Draft) -> None:
        draft.major = True


@dataclass(frozen=True, slots=True)
class Ignore:
    """Store the event, never open an incident (e.g. informational noise)."""

    def apply(self, draft: Draft) -> None:
        draft.ignore = True


@dataclass(frozen=True, slots=True)
class RuleIgnoreStage:
    """``ignore: true`` on a matching rule: stored, never an incident."""

    def apply(self, evaluation: Evaluation) -> Verdict | None:
        if evaluation.draft.ignore:
            return Verdict(EventOutcome.IGNORED, IncidentAction.NONE)
        return None
