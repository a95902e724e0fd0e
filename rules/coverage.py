"""Which named parts of a rule set the rule tests exercised, and which they never did.

Named parts: rules (by name), maintenance windows and inhibit rules (by the
``suppressed_by`` they leave), and known errors (by the note they add). A
part counts as exercised when a decision made during a test names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from rules.decision import Decision, RuleSet
from rules.engine import CompiledRuleSet
from rules.suppress import MaintenanceStage


def named_parts(ruleset: CompiledRuleSet) -> frozenset[str]:
    windows = (
        window.name
        for stage in ruleset.stages
        if isinstance(stage, MaintenanceStage)
        for window in stage.windows
    )
    return frozenset(
        [
            *(f"rule {rule.name}" for rule in ruleset.rules),
            *(f"maintenance {name}" for name in windows),
            *(f"inhibit {rule.name}" for rule in ruleset.inhibit_rules),
            *(f"known error {known.id}" for known in ruleset.known_errors),
        ]
    )


def exercised(decision: Decision) -> Iterator[str]:
    for name in decision.matched_rules:
        yield f"rule {name}"
    kind, _, name = decision.suppressed_by.partition(":")
    if kind in ("maintenance", "inhibit"):
        yield f"{kind} {name}"
    for note in decision.notes:
        if note.kind == "known_error" and "known_error" in note.data:
            yield f"known error {note.data['known_error']}"


@dataclass
class Coverage:
    """Per rule set (by its rules folder): every named part, and those exercised."""

    parts: dict[str, frozenset[str]] = field(default_factory=dict)
    hit: dict[str, set[str]] = field(default_factory=dict)

    def track(self, rules_dir: str, ruleset: RuleSet) -> None:
        """Any RuleSet can be tested; only a compiled one has named parts to cover."""
        parts = named_parts(ruleset) if isinstance(ruleset, CompiledRuleSet) else frozenset()
        self.parts.setdefault(rules_dir, parts)
        self.hit.setdefault(rules_dir, set())

    def saw(self, rules_dir: str, decision: Decision) -> None:
        self.hit.setdefault(rules_dir, set()).update(exercised(decision))

    def missing(self) -> dict[str, list[str]]:
        found = {
            rules_dir: sorted(parts - self.hit.get(rules_dir, set()))
            for rules_dir, parts in self.parts.items()
        }
        return {rules_dir: names for rules_dir, names in found.items() if names}

    def render(self) -> list[str]:
        return [
            f"{rules_dir}: never exercised by these tests: {', '.join(names)}"
            for rules_dir, names in self.missing().items()
        ]
