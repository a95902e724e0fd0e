"""Timeline entries for what an incident is waiting on: a pending resolution after
the hold-down, and events held back while they flap.

Without them an incident whose alerts have recovered looks stuck for the whole
hold-down, and a flapping alert changes nothing and says nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rules.decision import IncidentAction, IncidentState, StoredStatus, TimelineNote
from rules.draft import Draft
from rules.verdict import Evaluation, Verdict

_FIRES_ON = (IncidentAction.JOIN, IncidentAction.UPDATE, IncidentAction.REOPEN)


def calls_off_resolution(action: IncidentAction, status: StoredStatus) -> bool:
    """An alert firing on an incident calls off its pending resolution."""
    return status is StoredStatus.FIRING and action in _FIRES_ON


def hold_notes(
    evaluation: Evaluation,
    verdict: Verdict,
    target: IncidentState | None,
    status: StoredStatus,
) -> tuple[TimelineNote, ...]:
    """Entries for the hold-down and the flapping hold that start or end with this event."""
    notes: list[TimelineNote] = []
    pending = target.resolve_after if target is not None else None
    if verdict.resolve_after is not None and pending is None:
        when = _moment(verdict.resolve_after)
        notes.append(
            TimelineNote(
                "resolve_pending",
                f"all alerts recovered; resolving at {when} unless one fires again",
                {"resolve_after": when},
            )
        )
    elif pending is not None and calls_off_resolution(verdict.action, status):
        notes.append(
            TimelineNote(
                "resolve_cancelled",
                f"{_what(evaluation.draft)} fires again; the resolution due at "
                f"{_moment(pending)} is called off",
            )
        )
    if verdict.incident_id is not None:
        notes.extend(_flapping_notes(evaluation, verdict))
    return tuple(notes)


def _flapping_notes(evaluation: Evaluation, verdict: Verdict) -> tuple[TimelineNote, ...]:
    stored = evaluation.state.event
    was_flapping = stored is not None and stored.flapping
    policy = evaluation.draft.policy.flapping
    what = _what(evaluation.draft)
    if verdict.flapping and not was_flapping and policy is not None:
        return (
            TimelineNote(
                "flapping",
                f"{what} is flapping (more than {policy.transitions} changes in "
                f"{_duration(policy.window)}); held: it neither resolves nor reopens the "
                f"incident until it changes {policy.clear_at} times or fewer in that window",
                {"fingerprint": evaluation.fingerprint},
            ),
        )
    if was_flapping and not verdict.flapping:
        return (
            TimelineNote(
                "flapping_ended",
                f"{what} has calmed down and is no longer held",
                {"fingerprint": evaluation.fingerprint},
            ),
        )
    return ()


def _what(draft: Draft) -> str:
    event = draft.event
    return f"{event.name} on {event.resource}" if event.resource else event.name


def _moment(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _duration(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
