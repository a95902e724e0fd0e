"""Correlation: which open incident a new event joins, and thresholds before opening."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.decision import IncidentState
from rules.draft import Draft
from rules.templates import Template


@dataclass(frozen=True, slots=True)
class Correlation:
    """Events whose key renders the same share an incident updated within ``window``."""

    key: Template
    window: timedelta | None

    def key_for(self, draft: Draft, fingerprint: str) -> str:
        # A key with an empty part ("{service}" for an unmapped event) would
        # lump unrelated events together; fall back to the fingerprint.
        return self.key.render_all_present(draft) or fingerprint

    def may_join(self, incident: IncidentState, now: datetime) -> bool:
        if not incident.status.is_open:
            return False
        return self.window is None or now - incident.updated_at <= self.window


@dataclass(frozen=True, slots=True)
class Threshold:
    """``count`` occurrences within ``window`` before an incident opens."""

    count: int
    window: timedelta

    def since(self, now: datetime) -> datetime:
        return now - self.window

    def reached(self, stored_occurrences: int) -> bool:
        return stored_occurrences + 1 >= self.count


def nearest_ancestor_incident(
    ancestors: tuple[str, ...], incidents: tuple[IncidentState, ...]
) -> IncidentState | None:
    """The open incident on the nearest failed parent CI, if any."""
    by_ci = {incident.ci: incident for incident in incidents if incident.status.is_open}
    for ci in ancestors:
        found = by_ci.get(ci)
        if found is not None:
            return found
    return None
