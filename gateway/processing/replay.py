"""``intake-gateway replay``: stored intake through today's config and rules.

Replay reads the intake records received since ``--since`` (and what the
rules made of them then) from the live database, runs the records again, in
order and each at the time it was received, through the current parsers and
rules into a scratch SQLite database, and reports every event whose outcome,
priority, type or routes would now differ. It starts from an empty state at
``--since``: an event whose history began earlier may show as new.

The silences are copied from the live database into the scratch one, each
live only while it was in force (from its start, never before it was
created, to its end or its early expiry), so a record is judged with the
silences of its time. A copy rather than reads from the live database: the
scratch store judges each record in one transaction on its own connection,
exactly as the pipeline does, and the live database is read once, briefly,
and never held open while the records are run again. Maintenance windows
and inhibition come from the rules and the incidents replay itself opens.

The live database is only read, except without ``--dry-run``: then records
that failed (unparseable, or a rule or storage fault) go back to pending so
the running daemon processes them again with the current config. Records
that were processed are never applied twice, because that would count their
events twice.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import orjson

from core.errors import GatewayError, ParseError
from core.records import IntakeRecord
from gateway.runtime import Runtime
from storage import (
    Database,
    DatabaseSettings,
    IncidentStore,
    LabelIndexes,
    SilenceInForce,
    StoredOutcome,
    copy_silences,
    migrate,
    outcomes_by_intake,
    records_since,
    requeue_failed,
    silences_in_force,
)

_MAX_RECORDS = 100_000


class ReplayError(GatewayError):
    pass


@dataclass(frozen=True, slots=True)
class Change:
    intake_id: int
    source: str
    fingerprint: str
    field: str
    before: str
    after: str


@dataclass
class ReplayReport:
    records: int = 0
    unparseable: int = 0
    requeued: int = 0
    incidents_before: int = 0
    incidents_after: int = 0
    changes: list[Change] = field(default_factory=list)


async def replay(runtime: Runtime, *, since: datetime | None, dry_run: bool) -> ReplayReport:
    storage = runtime.loaded.config.storage
    live = Database(
        DatabaseSettings(
            url=storage.url,
            exclusive=False,
            connect_timeout_seconds=storage.connect_timeout_seconds,
        )
    )
    try:
        await live.open()
    except GatewayError as exc:
        raise ReplayError(f"cannot open the database: {exc}") from exc
    report = ReplayReport()
    try:
        records = await records_since(live, since, _MAX_RECORDS)
        before = await outcomes_by_intake(live, [record.id for record in records])
        silences = await silences_in_force(live)
        if not dry_run:
            report.requeued = await requeue_failed(live, since)
    finally:
        await live.close()
    report.records = len(records)
    with tempfile.TemporaryDirectory(prefix="intake-replay-") as scratch:
        after = await _run_again(runtime, records, silences, Path(scratch), report)
    report.incidents_before = _incident_count(before)
    report.incidents_after = _incident_count(after)
    report.changes = list(_compare(records, before, after))
    return report


async def _run_again(
    runtime: Runtime,
    records: list[IntakeRecord],
    silences: list[SilenceInForce],
    scratch: Path,
    report: ReplayReport,
) -> dict[int, list[StoredOutcome]]:
    db = Database(
        DatabaseSettings(url=f"sqlite://{scratch}/replay.sqlite3", sqlite_synchronous="full")
    )
    await db.open()
    try:
        await migrate(db, scratch=True)
        await copy_silences(db, silences)
        await LabelIndexes(db).keep(runtime.ruleset.inhibit_labels)
        store = IncidentStore(db)
        for record in records:
            parser = runtime.parsers.get(record.source)
            try:
                if parser is None:
                    raise ParseError("unknown_source", record.source)
                events = parser.parse(record)
            except ParseError:
                report.unparseable += 1
                continue
            async with db.transaction() as connection:
                ruleset, at = runtime.ruleset, record.received_at
                await store.judge(connection, ruleset, events, record.id, at)
        return await outcomes_by_intake(db, [record.id for record in records])
    finally:
        await db.close()


def _incident_count(outcomes: dict[int, list[StoredOutcome]]) -> int:
    return len({o.incident_key for items in outcomes.values() for o in items if o.incident_key})


def _compare(
    records: list[IntakeRecord],
    before: dict[int, list[StoredOutcome]],
    after: dict[int, list[StoredOutcome]],
) -> Iterator[Change]:
    for record in records:
        old = {item.fingerprint: item for item in before.get(record.id, [])}
        new = {item.fingerprint: item for item in after.get(record.id, [])}
        for fingerprint in sorted(old.keys() | new.keys()):
            was, now = old.get(fingerprint), new.get(fingerprint)
            for name in ("outcome", "priority", "type", "routes"):
                left = _field(was, name)
                right = _field(now, name)
                if left != right:
                    yield Change(record.id, record.source, fingerprint, name, left, right)


def _field(outcome: StoredOutcome | None, name: str) -> str:
    if outcome is None:
        return "(none)"
    value = getattr(outcome, name)
    return ",".join(value) if isinstance(value, tuple) else str(value)


def render_table(report: ReplayReport) -> str:
    lines = [
        f"records replayed: {report.records} (unparseable now: {report.unparseable}; "
        f"failed records re-queued: {report.requeued})",
        f"incidents: {report.incidents_before} before, {report.incidents_after} after",
    ]
    if not report.changes:
        lines.append("no event would change")
        return "\n".join(lines)
    header = f"{'intake':>8}  {'source':<16} {'fingerprint':<34} {'field':<9} before -> after"
    lines += ["", header, "-" * len(header)]
    for change in report.changes:
        lines.append(
            f"{change.intake_id:>8}  {change.source[:16]:<16} {change.fingerprint[:34]:<34} "
            f"{change.field:<9} {change.before} -> {change.after}"
        )
    lines.append(f"\n{len(report.changes)} changes")
    return "\n".join(lines)


def render_json(report: ReplayReport) -> str:
    return orjson.dumps(
        {
            "records": report.records,
            "unparseable": report.unparseable,
            "requeued": report.requeued,
            "incidents_before": report.incidents_before,
            "incidents_after": report.incidents_after,
            "changes": [asdict(change) for change in report.changes],
        },
        option=orjson.OPT_INDENT_2,
    ).decode()
