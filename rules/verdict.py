"""What the state-dependent stages see (Evaluation) and what they answer (Verdict)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from rules.decision import EventOutcome, IncidentAction, State
from rules.draft import Draft


@dataclass(frozen=True, slots=True)
class Evaluation:
    draft: Draft
    state: State
    now: datetime
    fingerprint: str
    correlation_key: str


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: EventOutcome
    action: IncidentAction
    incident_id: int | None = None
    linked_incident_id: int | None = None
    suppressed_by: str = ""
    flapping: bool = False
    resolve_after: datetime | None = None
    adopt_pending_since: datetime | None = None


class Stage(Protocol):
    """One step of evaluation; the first stage that answers decides the outcome."""

    def apply(self, evaluation: Evaluation) -> Verdict | None: ...
