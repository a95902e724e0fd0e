"""Forwarding work, written in the same transaction as the change that causes it.

Actions and payloads are the outbox vocabulary the dispatcher and sinks read
(``core.outbox.OutboxAction``). Each row's idempotency key is stable per
cause, so writing the same cause twice (a retried transaction, a replica
that lost a race) makes one row.

Repeats of a firing alert are counted, not written one row each: within a
bucket of ``OCCURRENCE_BUCKET_SECONDS`` one pending ``comment`` row per
incident and sink carries ``{"occurrences": N}``, and the dispatcher
summarises it. An alert storm therefore adds a handful of rows, not one per
alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from core.outbox import OutboxAction
from core.records import Event
from rules.decision import Decision, IncidentAction, StoredStatus, stored_status
from storage.atomic import QueryRunner
from storage.sql import Sql

OCCURRENCE_BUCKET_SECONDS = 60

_INSERT = (
    "INSERT INTO outbox (incident_id, sink, action, idempotency_key, payload, state, "
    "attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?) "
)


def entry_cause(entry_id: int) -> str:
    """The cause of a change a person (or the requester's page) made: its timeline entry,
    named apart from the pipeline's occurrence ids, which count from 1 as well."""
    return f"entry:{entry_id}"


async def queue(
    connection: QueryRunner,
    sql: Sql,
    *,
    incident_id: int,
    sinks: Iterable[str],
    action: OutboxAction,
    cause: str,
    payload: Mapping[str, Any],
    now: datetime,
) -> None:
    """One row per sink; ``cause`` makes the key: ``{incident}:{sink}:{action}:{cause}``."""
    for sink in sinks:
        key = f"{incident_id}:{sink}:{action.value}" + (f":{cause}" if cause else "")
        await connection.execute_query(
            sql(_INSERT + "ON CONFLICT (idempotency_key) DO NOTHING"),
            [
                incident_id,
                sink[:64],
                action.value,
                key[:255],
                sql.json(dict(payload)),
                sql.time(now),
                sql.time(now),
            ],
        )


async def count_occurrence(
    connection: QueryRunner,
    sql: Sql,
    *,
    incident_id: int,
    sinks: Iterable[str],
    now: datetime,
) -> None:
    """Add one occurrence to this bucket's pending comment row (or start one)."""
    bucket = int(now.timestamp()) // OCCURRENCE_BUCKET_SECONDS
    if sql.postgres:
        bump = (
            "payload = jsonb_set(outbox.payload, '{occurrences}', to_jsonb("
            "COALESCE((outbox.payload->>'occurrences')::int, 0) + 1))"
        )
    else:
        bump = (
            "payload = json_set(outbox.payload, '$.occurrences', "
            "COALESCE(json_extract(outbox.payload, '$.occurrences'), 0) + 1)"
        )
    for sink in sinks:
        key = f"{incident_id}:{sink}:comment:occurrences:{bucket}"
        await connection.execute_query(
            sql(
                _INSERT + f"ON CONFLICT (idempotency_key) DO UPDATE SET {bump} "
                "WHERE outbox.state = 'pending'"
            ),
            [
                incident_id,
                sink[:64],
                "comment",
                key[:255],
                sql.json({"occurrences": 1}),
                sql.time(now),
                sql.time(now),
            ],
        )


async def queue_routes(
    connection: QueryRunner,
    sql: Sql,
    incident_id: int,
    event: Event,
    decision: Decision,
    occurrence_id: int,
    changes: Mapping[str, list[str]],
    now: datetime,
) -> None:
    """Forwarding work is written in the same transaction as its cause."""
    sinks = decision.routes
    if not sinks:
        return
    action = decision.action
    # (what, payload); every row of one event has the occurrence as its cause
    work: list[tuple[OutboxAction, Mapping[str, Any]]] = []
    if action is IncidentAction.OPEN:
        work.append((OutboxAction.CREATE, {}))
    elif changes:
        work.append((OutboxAction.UPDATE, {"changes": dict(changes)}))
    if action is IncidentAction.REOPEN:
        work.append((OutboxAction.REOPEN, {}))
    elif action is IncidentAction.RESOLVE:
        work.append((OutboxAction.RESOLVE, {}))
    elif action is IncidentAction.COMMENT:
        mail = event.mail
        text = (mail.body if mail else event.summary)[:10_000]
        work.append(
            (
                OutboxAction.COMMENT,
                {"text": text, "author": mail.sender if mail else event.source},
            )
        )
    elif stored_status(event, decision) is StoredStatus.FIRING and action in (
        IncidentAction.JOIN,
        IncidentAction.UPDATE,
    ):
        await count_occurrence(connection, sql, incident_id=incident_id, sinks=sinks, now=now)
    for what, payload in work:
        # a create is one per incident and sink, whatever caused it
        cause = "" if what is OutboxAction.CREATE else str(occurrence_id)
        await queue(
            connection,
            sql,
            incident_id=incident_id,
            sinks=sinks,
            action=what,
            cause=cause,
            payload=payload,
            now=now,
        )
