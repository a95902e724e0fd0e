"""A dry run of one payload: the real parser, the real rules, the stored state, no writes.

The events are judged as ``IncidentStore.judge`` judges a record (the replay and rule
scenario path; the pipeline batches the same steps): each event's state is loaded and
evaluated in one transaction, the events before the last applied so that the next one
sees them, and the transaction is then rolled back. A payload of one event writes
nothing at all; several write only inside the rolled-back transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.records import Event, IntakeRecord
from gateway.intake.mailintake import MAIL_KIND
from gateway.processing.explain_source import Payload
from parsers.email import EmailParser
from parsers.mail.diagnosis import CharsetFinding, diagnose
from rules.decision import Decision, IncidentAction
from rules.engine import CompiledRuleSet
from storage import Database, IncidentStore, QueryRunner, incident_key, run_atomic


@dataclass(frozen=True, slots=True)
class DryRun:
    decisions: Sequence[Decision]
    # incidents the dry run itself opened (rolled back since): id -> the event (from 1)
    opened: Mapping[int, int] = field(default_factory=dict)


class _Judged(Exception):
    """Ends the dry run's transaction, which rolls it back, carrying its decisions."""

    def __init__(self, run: DryRun) -> None:
        super().__init__("dry run")
        self.run = run


async def dry_judge(
    db: Database,
    store: IncidentStore,
    ruleset: CompiledRuleSet,
    events: Sequence[Event],
    now: datetime,
) -> DryRun:
    async def unit(connection: QueryRunner) -> None:
        in_force = await store.silences(connection, now)
        decisions: list[Decision] = []
        opened: dict[int, int] = {}
        for number, event in enumerate(events[:-1], 1):  # written: the last sees their rows
            decision, applied = await store.judge_event(
                connection, ruleset, event, None, now, in_force
            )
            decisions.append(decision)
            if decision.action is IncidentAction.OPEN and applied.incident_id is not None:
                opened[applied.incident_id] = number
        last = events[-1]
        state = await store.load_state(connection, ruleset.lookup(last, now), in_force)
        decisions.append(ruleset.evaluate(last, state, now))
        raise _Judged(DryRun(decisions, opened))

    if not events:
        return DryRun(())
    try:
        await run_atomic(db, unit)
    except _Judged as judged:
        return judged.run
    raise AssertionError("the dry run's unit always ends by raising")  # pragma: no cover


def mail_options(parser: object) -> EmailParser | None:
    """The email parser behind a mailbox's parser (which adds the mailbox's defaults)."""
    inner = getattr(parser, "parser", parser)
    return inner if isinstance(inner, EmailParser) else None


def charset_json(record: IntakeRecord, parser: object) -> list[dict[str, Any]] | None:
    email = mail_options(parser)
    if email is None:
        return None
    return [_finding_json(finding) for finding in diagnose(record, email.options)]


def _finding_json(finding: CharsetFinding) -> dict[str, Any]:
    return {
        "part": finding.part,
        "declared": finding.declared,
        "declared_fits": finding.declared_fits,
        "needs": finding.needs,
        "detected": finding.detected,
        "decoded_as": finding.decoded_as,
        "defect": finding.defect,
        "verdict": finding.verdict,
    }


@dataclass(frozen=True, slots=True)
class Explained:
    integration: str
    kind: str
    record: IntakeRecord
    events: Sequence[Event]
    run: DryRun
    ruleset: CompiledRuleSet
    charsets: list[dict[str, Any]] | None

    def as_json(self) -> dict[str, Any]:
        where = {rule.name: rule.where for rule in self.ruleset.rules}
        return {
            "integration": self.integration,
            "kind": self.kind,
            "at": _time(self.record.received_at),
            "rules_version": self.ruleset.version,
            "stored": False,
            "charsets": self.charsets,
            "events": [
                {
                    "event": event_json(event),
                    "decision": decision_json(decision, where, self.run.opened),
                }
                for event, decision in zip(self.events, self.run.decisions, strict=True)
            ],
        }


def explained(
    found: Payload, events: Sequence[Event], run: DryRun, ruleset: CompiledRuleSet
) -> dict[str, Any]:
    """The explanation as the API answers it and the command prints it."""
    charsets = charset_json(found.record, found.parser) if found.kind == MAIL_KIND else None
    return Explained(found.name, found.kind, found.record, events, run, ruleset, charsets).as_json()


def event_json(event: Event) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": event.source,
        "kind": event.kind,
        "name": event.name,
        "resource": event.resource,
        "service": event.service,
        "ci": event.ci,
        "environment": event.environment,
        "severity": event.severity.value,
        "status": event.status.value,
        "summary": event.summary,
        "occurred_at": _time(event.occurred_at),
        "source_fingerprint": event.fingerprint,
        "labels": dict(event.labels),
    }
    if event.mail is not None:
        mail = event.mail
        body["mail"] = {
            "kind": mail.kind.value,
            "subject": mail.subject,
            "sender": mail.sender,
            "message_id": mail.message_id,
            "incident_keys": list(mail.incident_keys),
            "defects": list(mail.defects),
        }
    return body


def decision_json(
    decision: Decision, where: Mapping[str, str], opened: Mapping[int, int]
) -> dict[str, Any]:
    fields = decision.incident
    sla = decision.sla
    incident_id = decision.incident_id
    # an incident an earlier event of the same payload opens has no number yet
    of_event = opened.get(incident_id) if incident_id is not None else None
    return {
        "fingerprint": decision.fingerprint,
        "correlation_key": decision.correlation_key,
        "outcome": decision.outcome.value,
        "action": decision.action.value,
        "incident_id": None if of_event else incident_id,
        "incident_key": incident_key(incident_id) if incident_id and not of_event else None,
        "incident_of_event": of_event,
        "matched_rules": [
            {"name": name, "where": where.get(name, "")} for name in decision.matched_rules
        ],
        "rule_errors": list(decision.rule_errors),
        "suppressed_by": decision.suppressed_by,
        "title": fields.title,
        "type": fields.type.value,
        "priority": fields.priority.value,
        "impact": fields.impact,
        "urgency": fields.urgency,
        "major": fields.major,
        "service": fields.service,
        "ci": fields.ci,
        "category": fields.category,
        "assignment_group": fields.assignment_group,
        "routes": list(decision.routes),
        "sla": None
        if sla is None
        else {"response_due": _time(sla.response_due), "resolution_due": _time(sla.resolution_due)},
        "notes": [{"kind": note.kind, "text": note.text} for note in decision.notes],
        "resolve_after": _time(decision.resolve_after),
        "flapping": decision.flapping,
        "problem_candidate": decision.problem_candidate,
    }


def _time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
