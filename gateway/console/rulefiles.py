"""The loaded rule files as the console shows them (read-only), and where a rule
is written: a rule's name found as ``name: <rule>`` in a file gives ``file:line``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rules.engine import CompiledRuleSet
from rules.suppress import MaintenanceStage

_MAX_FILE_BYTES = 256 * 1024
_MAX_FILES = 200


@dataclass(frozen=True, slots=True)
class RuleFile:
    path: Path
    text: str


def rule_files(directory: Path) -> list[RuleFile]:
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("*.yaml"))[:_MAX_FILES]:
        data = path.read_bytes()[:_MAX_FILE_BYTES]
        found.append(RuleFile(path, data.decode("utf-8", errors="replace")))
    return found


def locate(names: Iterable[str], files: list[RuleFile]) -> dict[str, str]:
    """``file:line`` of each rule name (the first file, in load order, that names it)."""
    found: dict[str, str] = {}
    for name in names:
        pattern = re.compile(
            r"^\s*(?:-\s*)?name:\s*[\"']?" + re.escape(name) + r"[\"']?\s*(?:#.*)?$", re.M
        )
        for item in files:
            match = pattern.search(item.text)
            if match:
                line = item.text.count("\n", 0, match.start()) + 1
                found[name] = f"{item.path.name}:{line}"
                break
    return found


def maintenance_windows(ruleset: CompiledRuleSet, now: datetime) -> list[tuple[str, bool]]:
    """The rules' maintenance windows by name, and whether each is in force now."""
    return [
        (window.name, window.schedule.active(now))
        for stage in ruleset.stages
        if isinstance(stage, MaintenanceStage)
        for window in stage.windows
    ]
