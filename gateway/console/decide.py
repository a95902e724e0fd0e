"""Run a raw payload through a source's parser and the current rules without storing
anything: the console's explain page (the stored record again) and its "try it" box
(a pasted .eml or JSON) read the decision the same way test-rules does, from an
empty stored state (no open incident, silence or history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.errors import ParseError
from core.records import Channel, Event, IntakeRecord
from rules.decision import Decision, State
from rules.engine import CompiledRuleSet

_MAX_EVENTS = 50


@dataclass(frozen=True, slots=True)
class Trial:
    events: tuple[tuple[Event, Decision], ...]
    error: str = ""


def decide(parser: object, ruleset: CompiledRuleSet, record: IntakeRecord, now: datetime) -> Trial:
    parse = getattr(parser, "parse", None)
    if parse is None:
        return Trial((), "this source has no parser")
    try:
        events = parse(record)
    except ParseError as exc:
        return Trial((), f"the parser refused it: {exc}")
    decided = tuple(
        (event, ruleset.evaluate(event, State(), now)) for event in events[:_MAX_EVENTS]
    )
    return Trial(decided)


def pasted_record(source: str, kind: str, raw: bytes, now: datetime) -> IntakeRecord:
    """A pasted payload as the intake would have stored it: a mail for a mailbox,
    an HTTP body for an integration."""
    looks_like_json = raw.lstrip()[:1] in (b"{", b"[")
    return IntakeRecord(
        id=0,
        channel=Channel.HTTP if looks_like_json else Channel.SMTP,
        source=source,
        kind=kind,
        received_at=now,
        raw=raw,
        meta={"content_type": "application/json"} if looks_like_json else {},
    )
