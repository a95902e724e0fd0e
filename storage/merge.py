"""Merging a duplicate incident into the one that survives (as ServiceNow's "duplicate
of", Zammad's merge): one transaction that

- moves the duplicate's events to the survivor, with its event and firing counts, so
  the survivor's auto-resolution waits for them too;
- closes the duplicate with ``merged_into_id`` (its correlation key then leads new
  events to the survivor: ``storage.incident_state``);
- writes a timeline entry on both with the person's name and the audit log's row;
- queues the duplicate's resolve (or close, if it was resolved already) saying where it
  went, and a comment to the survivor's sinks.

Refused: into itself, from or into a closed or merged incident (no chains: the answer
names the incident to merge into instead), an unknown survivor. Merging the same pair
again answers as the first time did, changing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from core.outbox import OutboxAction
from rules.decision import IncidentStatus
from storage import audit, models
from storage.audit import Operator
from storage.forwarding import entry_cause, queue
from storage.incident_state import incident_key, incident_routes
from storage.sql import Sql
from storage.views import incident_json, incident_lookup
from storage.visibility import visibility_of


class MergeRefused(Exception):
    """The merge does not apply; ``unknown``: the survivor named does not exist."""

    def __init__(self, message: str, *, unknown: bool = False) -> None:
        super().__init__(message)
        self.unknown = unknown


@dataclass(frozen=True, slots=True)
class Merged:
    duplicate: dict[str, Any]  # the incident as the API shows it, now closed
    survivor: dict[str, Any]
    events: int  # events moved; 0 when the merge was done before


async def merge_in(
    connection: BaseDBAsyncClient,
    sql: Sql,
    ident: int | str,
    into: int | str,
    by: Operator,
    comment: str,
    now: datetime,
) -> Merged | None:
    """Merge ``ident`` into ``into`` in the caller's transaction; None: no ``ident``."""
    duplicate = await models.Incident.filter(incident_lookup(ident)).using_db(connection).first()
    if duplicate is None:
        return None
    survivor = await models.Incident.filter(incident_lookup(into)).using_db(connection).first()
    if survivor is None:
        raise MergeRefused(f"no incident {str(into)[:32]} to merge into", unknown=True)
    if sql.postgres:
        # the duplicate's events before the incidents, in the order the pipeline locks
        # an event and then its incident: judging one of them meanwhile cannot deadlock
        await connection.execute_query(
            sql("SELECT id FROM events WHERE incident_id = ? ORDER BY id FOR UPDATE"),
            [duplicate.id],
        )
    # the incidents in id order, so two merges of one pair cannot deadlock either
    rows = await _locked(connection, sql, sorted({duplicate.id, survivor.id}))
    duplicate, survivor = rows[duplicate.id], rows[survivor.id]
    if duplicate.merged_into_id is not None and duplicate.merged_into_id == survivor.id:
        return Merged(await _json(connection, duplicate), await _json(connection, survivor), 0)
    _check(duplicate, survivor)
    moved = await _move_events(connection, sql, duplicate, survivor, now)
    was = IncidentStatus(duplicate.status)
    duplicate.merged_into_id = survivor.id
    duplicate.status = IncidentStatus.CLOSED.value
    duplicate.open_key = None
    duplicate.firing_events = 0
    duplicate.resolve_after = None
    duplicate.resolved_at = duplicate.resolved_at or now
    duplicate.closed_at = now
    duplicate.pending_since = None
    duplicate.updated_at = now
    await duplicate.save(using_db=connection)
    # incidents merged into the duplicate before now lead to the survivor
    await (
        models.Incident.filter(merged_into_id=duplicate.id)
        .using_db(connection)
        .update(merged_into_id=survivor.id)
    )
    dup_key, survivor_key = _key(duplicate), _key(survivor)
    extra = f"\n{comment}" if comment else ""
    author = by.actor[:128]
    # the duplicate's tickets end saying where it went; a resolved one is closed now
    await _tell(
        connection,
        sql,
        Told(duplicate.id, "merged", f"merged into {survivor_key}", extra, author),
        {"into": survivor.id, "into_key": survivor_key, "events": moved, "from": was.value},
        OutboxAction.CLOSE if was is IncidentStatus.RESOLVED else OutboxAction.RESOLVE,
        now,
    )
    await _tell(
        connection,
        sql,
        Told(survivor.id, "merged_in", f"{dup_key} merged into this incident", extra, author),
        {"from": duplicate.id, "from_key": dup_key, "events": moved},
        OutboxAction.COMMENT,
        now,
    )
    details = {"into": survivor_key, "events": moved, "comment": bool(comment)}
    await audit.record_as(connection, by, "incident.merged", dup_key, details, now)
    return Merged(await _json(connection, duplicate), await _json(connection, survivor), moved)


@dataclass(frozen=True, slots=True)
class Told:
    """What one side of a merge says, on its timeline and to its sinks."""

    incident_id: int
    kind: str
    text: str
    comment: str  # the person's comment, on a line of its own ("" for none)
    author: str


async def _tell(
    connection: BaseDBAsyncClient,
    sql: Sql,
    told: Told,
    data: dict[str, Any],
    action: OutboxAction,
    now: datetime,
) -> None:
    """The timeline entry, and the outbox rows keyed by it for every sink of the incident."""
    entry = await models.TimelineEntry.create(
        using_db=connection,
        incident_id=told.incident_id,
        at=now,
        kind=told.kind,
        author=told.author,
        text=f"{told.text}{told.comment}",
        data=data,
        visibility=visibility_of(told.kind),
    )
    note = f"{told.text[:1].upper()}{told.text[1:]}{told.comment}"
    await queue(
        connection,
        sql,
        incident_id=told.incident_id,
        sinks=await incident_routes(connection, sql, told.incident_id),
        action=action,
        cause=entry_cause(entry.id),
        payload={"text": note, "author": told.author},
        now=now,
    )


async def _locked(
    connection: BaseDBAsyncClient, sql: Sql, ids: list[int]
) -> dict[int, models.Incident]:
    found: dict[int, models.Incident] = {}
    for incident_id in ids:
        query = models.Incident.filter(id=incident_id).using_db(connection)
        row = await (query.select_for_update() if sql.postgres else query).first()
        if row is None:  # deleted by retention between the reads
            raise MergeRefused(f"incident {incident_key(incident_id)} is gone")
        found[incident_id] = row
    return found


def _check(duplicate: models.Incident, survivor: models.Incident) -> None:
    dup_key, survivor_key = _key(duplicate), _key(survivor)
    if duplicate.id == survivor.id:
        raise MergeRefused(f"{dup_key} cannot be merged into itself")
    if duplicate.merged_into_id is not None:
        raise MergeRefused(
            f"{dup_key} is merged into {incident_key(duplicate.merged_into_id)} already"
        )
    if duplicate.status == IncidentStatus.CLOSED.value:
        raise MergeRefused(f"{dup_key} is closed")
    if survivor.merged_into_id == duplicate.id:
        raise MergeRefused(f"{survivor_key} is merged into {dup_key} already: nothing to merge")
    if survivor.merged_into_id is not None:
        final = incident_key(survivor.merged_into_id)
        raise MergeRefused(f"{survivor_key} is merged into {final}: merge into {final}")
    if survivor.status == IncidentStatus.CLOSED.value:
        raise MergeRefused(f"{survivor_key} is closed: merge into an incident still in work")


async def _move_events(
    connection: BaseDBAsyncClient,
    sql: Sql,
    duplicate: models.Incident,
    survivor: models.Incident,
    now: datetime,
) -> int:
    """The duplicate's events become the survivor's, with their counts."""
    moved = await models.Event.filter(incident_id=duplicate.id).using_db(connection).count()
    await connection.execute_query(
        sql("UPDATE events SET incident_id = ? WHERE incident_id = ?"),
        [survivor.id, duplicate.id],
    )
    survivor.event_count += duplicate.event_count
    survivor.firing_events += duplicate.firing_events
    if duplicate.firing_events:
        survivor.resolve_after = None  # an alert of the duplicate still fires
    survivor.updated_at = now
    await survivor.save(using_db=connection)
    return moved


async def _json(connection: BaseDBAsyncClient, row: models.Incident) -> dict[str, Any]:
    refs = await models.ExternalRef.filter(incident_id=row.id).using_db(connection)
    return incident_json(row, list(refs))


def _key(row: models.Incident) -> str:
    return str(row.key or incident_key(row.id))
