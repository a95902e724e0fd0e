"""Applying parsed records in one transaction, a big record in parts.

A 10,000-alert payload applied in one transaction held the one SQLite
connection (and so every sender's commit) for as long as it took. At most
about ``budget`` events now go in one transaction: a bigger record is
applied in parts, each transaction recording how far it got
(storage/records.py ``mark_applied``), and the next one goes on from there,
after a restart too, or on another replica whose turn it is. The record is
marked processed by the transaction that applies its last event, so every
event is applied once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from core.records import Event, IntakeRecord
from gateway.metrics import Metrics
from rules.decision import IncidentAction, RuleSet
from storage import (
    Database,
    DayTally,
    EventStatistics,
    IncidentStore,
    LabelIndexes,
    QueryRunner,
    RecordStore,
    run_atomic,
)

# an event's outcome, and the priority of the incident it opened (None: it opened none)
EventTally = tuple[str, str | None]
# a big record's part while senders keep coming (while none do, the caller's larger
# budget): up to this many events in one transaction, and at least the second figure
# before it gives the connection to a waiting commit (so it advances). Measured on
# SQLite: parts of 512 and 128 held a small webhook's p99 at 200-500 ms, 128 and 16
# at 33-51 ms, at about the same alerts per second.
PART_EVENTS = 128
MIN_PART_EVENTS = 16


class Waiting(Protocol):
    def waiting(self) -> bool:
        """Whether intake has commits queued; asked from the connection's thread."""
        ...


# (record, its events, first and end index of those this transaction applies;
# -1, -1: the record was applied meanwhile, by a replica whose claim had run out)
_Part = tuple[IntakeRecord, list[Event], int, int]


class Applier:
    def __init__(
        self, db: Database, records: RecordStore, incidents: IncidentStore, metrics: Metrics
    ) -> None:
        self._db = db
        self._records = records
        self._incidents = incidents
        self._metrics = metrics
        self._label_indexes = LabelIndexes(db)
        self._statistics = EventStatistics(db)

    async def apply(
        self,
        parsed: list[tuple[IntakeRecord, list[Event]]],
        ruleset: RuleSet,
        now: datetime,
        *,
        intake: Waiting | None,
        budget: int,
    ) -> tuple[list[EventTally], int]:
        """Evaluate and apply in one transaction; the event outcomes, and how many
        records (from the first) are now applied whole.

        ``intake``: where intake shares the pipeline's connection (SQLite), a
        commit that waits for it ends the transaction at the next record, or
        within a record once MIN_PART_EVENTS are in: an acknowledgement waits for
        that much, not for a whole payload.
        """
        await self._label_indexes.keep(ruleset.inhibit_labels)  # at start and after a reload
        records = self._records
        incidents = self._incidents

        async def unit(connection: QueryRunner) -> tuple[list[EventTally], int]:
            # the roll-up's increments of the whole batch, in one statement at its end
            tally = DayTally.of(self._db)
            found = await judged(connection, tally)
            await tally.write(connection)
            return found

        async def judged(connection: QueryRunner, tally: DayTally) -> tuple[list[EventTally], int]:
            outcomes: list[EventTally] = []
            progress = await records.progress(connection, [record.id for record, _ in parsed])
            plan = _within(_plan(parsed, progress), max(budget, PART_EVENTS))
            silences = await incidents.silences(connection, now)
            lookups = {
                id(event): ruleset.lookup(event, now)
                for _, events, start, stop in plan
                for event in events[max(start, 0) : stop]
            }
            ahead = await incidents.read_ahead(connection, lookups.values())
            done: list[int] = []
            # records an earlier transaction applied a part of: their progress goes
            parted = {record.id for record, _, start, _ in plan if start > 0}
            whole = 0  # records from the first that are finished
            for record, events, start, stop in plan:
                if start < 0:
                    whole += 1
                    continue
                for index in range(start, stop):
                    if intake is not None and outcomes and intake.waiting():
                        if index == start:  # the next record waits for the next turn
                            await records.mark_processed(
                                connection, done, now, done_parted(done, parted)
                            )
                            return outcomes, whole
                        if len(outcomes) >= MIN_PART_EVENTS:  # so does this one's rest
                            await records.mark_applied(
                                connection, record.id, index, first=start == 0
                            )
                            await records.mark_processed(
                                connection, done, now, done_parted(done, parted)
                            )
                            return outcomes, whole
                    event = events[index]
                    lookup = lookups[id(event)]
                    decision, applied = await incidents.judge_event(
                        connection, ruleset, event, record.id, now, silences, lookup, ahead, tally
                    )
                    if decision.rule_errors:
                        self._metrics.rule_errors.inc(len(decision.rule_errors))
                    opened = applied.action is IncidentAction.OPEN
                    outcomes.append(
                        (applied.outcome.value, decision.incident.priority if opened else None)
                    )
                if stop < len(events):  # the budget ends inside this record
                    await records.mark_applied(connection, record.id, stop, first=start == 0)
                    break
                done.append(record.id)
                whole += 1
            await records.mark_processed(connection, done, now, done_parted(done, parted))
            return outcomes, whole

        # on SQLite the unit runs in the connection's thread and holds the connection
        # throughout: while senders wait for it, transactions are short
        # derived: the records stay pending until this commits, so it needs no fsync
        outcomes, whole = await run_atomic(self._db, unit, derived=True)
        await self._statistics.applied(len(outcomes))  # PostgreSQL: plans fit the table
        return outcomes, whole


def _plan(
    parsed: list[tuple[IntakeRecord, list[Event]]], progress: Mapping[int, int]
) -> list[_Part]:
    """Each record from where it was left: ``progress`` has the pending ones, with how
    many of their events are applied already."""
    return [
        (record, events, progress[record.id], len(events))
        if record.id in progress
        else (record, events, -1, -1)
        for record, events in parsed
    ]


def _within(plan: list[_Part], budget: int) -> list[_Part]:
    """The parts that fit ``budget`` events, the last one cut short if need be."""
    fitting: list[_Part] = []
    for record, events, start, stop in plan:
        if budget <= 0:
            break
        end = min(stop, start + budget) if start >= 0 else stop
        fitting.append((record, events, start, end))
        budget -= max(0, end - start)
    return fitting


def done_parted(done: list[int], parted: set[int]) -> list[int]:
    """The finished records whose progress an earlier part recorded."""
    return [record_id for record_id in done if record_id in parted]
