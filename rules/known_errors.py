"""Known errors: a matcher, a workaround and a problem reference, noted on the incident."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.decision import TimelineNote
from rules.draft import Draft
from rules.expressions import Condition, RuleFailure
from rules.matchers import Predicate


@dataclass(frozen=True, slots=True)
class KnownError:
    id: str
    title: str
    predicate: Predicate
    condition: Condition | None
    workaround: str
    problem: str

    def note_for(self, draft: Draft) -> TimelineNote | None:
        """The timeline note when the event matches; a failing condition is recorded."""
        try:
            matches = self.predicate(draft) and (
                self.condition is None or self.condition.matches(draft)
            )
        except RuleFailure as exc:
            draft.errors.append(f"known_error:{self.id}: {exc}")
            return None
        if not matches:
            return None
        data = {"known_error": self.id, "problem": self.problem, "title": self.title}
        return TimelineNote("known_error", self.workaround, data)


def known_error_notes(known: tuple[KnownError, ...], draft: Draft) -> tuple[TimelineNote, ...]:
    return tuple(note for entry in known if (note := entry.note_for(draft)) is not None)


@dataclass(frozen=True, slots=True)
class RecurrencePolicy:
    """``incidents`` incidents of one fingerprint or CI within ``window``: a problem candidate."""

    incidents: int
    window: timedelta

    def since(self, now: datetime) -> datetime:
        return now - self.window

    def related(self, earlier: tuple[int, ...]) -> tuple[int, ...]:
        """The earlier incidents when the new one makes a recurrence, else ()."""
        return earlier if len(earlier) + 1 >= self.incidents else ()
