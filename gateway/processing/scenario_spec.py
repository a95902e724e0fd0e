"""The format of rule scenario files, and the intake records their steps send.

A scenario drives a rule set through an incident's life with the real
parsers and the real incident store, on a clock the file moves forward
(documented in docs/rule-tests.md)::

    rules_dir: ..
    catalogue: ../../catalogue.yaml
    start: 2026-12-07T10:00:00+01:00     # a default for every scenario
    tick: 1m                             # how often the periodic job runs
    sources:                             # source name -> parser kind (+ options)
      alerts: {kind: email}
      prometheus: {kind: alertmanager}
    scenarios:
      - name: a Nagios problem mail, its recovery, resolved after the hold-down
        steps:
          - receive: {source: alerts, file: payloads/nagios-problem.eml}
            expect:
              decisions: [{outcome: new, action: open}]
              incidents: [{status: new}]
          - after: 2m
            receive: {source: alerts, file: payloads/nagios-recovery.eml}
          - after: 5m
            expect: {incidents: [{status: resolved}]}
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from core.records import Channel, IntakeRecord
from core.validation import Duration, Strict
from gateway.config.mail import IncidentType, MailboxConfig
from gateway.runtime import MailboxParser
from parsers.base import Parser
from parsers.registry import PARSERS

_CONTENT_TYPES = {".form": "application/x-www-form-urlencoded"}


class SourceSpec(Strict):
    """Where a payload comes from: an integration (its kind) or a mailbox (kind email)."""

    kind: str
    options: dict[str, Any] = Field(default_factory=dict)
    service: str = ""  # a mailbox's service
    type: IncidentType = "incident"  # a mailbox's incident type

    def parser(self, name: str) -> Parser:
        if self.kind == "email":
            mailbox = MailboxConfig(
                name=name,
                address=f"{name}@scenario.invalid",
                service=self.service,
                type=self.type,
                options=self.options,
            )
            return MailboxParser.for_mailbox(mailbox)
        factory = PARSERS.get(self.kind)
        if factory is None:
            raise ValueError(f'unknown kind "{self.kind}" (known: {", ".join(sorted(PARSERS))})')
        return factory(self.options)


class ReceiveSpec(Strict):
    """A payload as a source sends it: a file (.eml, .json, .form) or written inline."""

    source: str
    file: str | None = None
    payload: Any = None

    @model_validator(mode="after")
    def _one_payload(self) -> ReceiveSpec:
        if (self.file is None) == (self.payload is None):
            raise ValueError('give either "file" or "payload"')
        return self

    def record(self, base: Path, kind: str, number: int, now: datetime) -> IntakeRecord:
        if self.file is not None:
            path = base / self.file
            raw = path.read_bytes()
            suffix = path.suffix
        else:
            text = self.payload if isinstance(self.payload, str) else json.dumps(self.payload)
            raw, suffix = text.encode("utf-8"), ".eml" if kind == "email" else ".json"
        if kind == "email":
            meta = {"mail_from": "scenario@example.org", "rcpt_to": f"{self.source}@scenario"}
            return IntakeRecord(number, Channel.SMTP, self.source, kind, now, raw, meta)
        meta = {"content_type": _CONTENT_TYPES.get(suffix, "application/json")}
        return IntakeRecord(number, Channel.HTTP, self.source, kind, now, raw, meta)


class SilenceSpec(Strict):
    """A silence created at the step's time, as POST /api/v1/silences makes it."""

    matchers: list[dict[str, str]]  # {name, op, value}; op = != =~ !~
    duration: Duration
    comment: str = "scenario"


class ExpectSpec(Strict):
    """Compared as subsets: only the keys written count.

    ``decisions``: the rule decisions the step's events got, in order.
    ``incidents``: every incident, oldest first, as the API shows it (with
    events and timeline), plus ``timeline_kinds``: the kinds of its timeline
    entries in order.
    """

    decisions: list[dict[str, Any]] | None = None
    incidents: list[dict[str, Any]] | None = None


class StepSpec(Strict):
    """Move the clock (``after`` or ``at``; the periodic job runs every tick on the
    way), then do at most one thing, then check."""

    after: Duration | None = None
    at: datetime | None = None
    tick: Duration | None = None  # the periodic job's interval while the clock moves
    receive: ReceiveSpec | None = None
    silence: SilenceSpec | None = None
    acknowledge: str | None = None  # an incident key
    resolve: str | None = None  # an incident key
    expect: ExpectSpec = Field(default_factory=ExpectSpec)

    @model_validator(mode="after")
    def _one_thing(self) -> StepSpec:
        if self.after is not None and self.at is not None:
            raise ValueError('give "after" or "at", not both')
        done = [self.receive, self.silence, self.acknowledge, self.resolve]
        if sum(item is not None for item in done) > 1:
            raise ValueError("a step does one thing: receive, silence, acknowledge or resolve")
        return self

    def moved(self, now: datetime) -> datetime:
        if self.at is not None:
            return self.at
        return now + (self.after or timedelta(0))


class ScenarioSpec(Strict):
    name: str
    start: datetime | None = None
    tick: Duration | None = None
    steps: list[StepSpec] = Field(min_length=1)


class ScenarioFileSpec(Strict):
    rules_dir: str = ".."
    catalogue: str | None = None
    start: datetime | None = None
    tick: Duration = timedelta(minutes=1)
    sources: dict[str, SourceSpec]
    scenarios: list[ScenarioSpec] = Field(min_length=1)
