"""An incident's timeline entries and the mails that thread into it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.records import Event
from rules.decision import Decision, IncidentAction, IncidentState
from storage.atomic import QueryRunner
from storage.sql import Sql
from storage.visibility import visibility_of

# attachments listed on a timeline entry, at most (a mail may carry thousands of parts)
_TIMELINE_ATTACHMENTS = 100


async def note(
    connection: QueryRunner,
    sql: Sql,
    incident_id: int,
    now: datetime,
    kind: str,
    text: str,
    *,
    author: str = "gateway",
    data: Mapping[str, Any] | None = None,
    visibility: str | None = None,
) -> None:
    await connection.execute_query(
        sql(
            "INSERT INTO timeline (incident_id, at, kind, author, text, data, visibility) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)"
        ),
        [
            incident_id,
            sql.time(now),
            kind[:32],
            author[:128],
            text,
            sql.json(dict(data or {})),
            visibility or visibility_of(kind),
        ],
    )


async def notes(
    connection: QueryRunner, sql: Sql, incident_id: int, decision: Decision, now: datetime
) -> None:
    for item in decision.notes:
        await note(connection, sql, incident_id, now, item.kind, item.text, data=item.data)


async def timeline_for(
    connection: QueryRunner,
    sql: Sql,
    event: Event,
    decision: Decision,
    current: IncidentState,
    raised: bool,
    now: datetime,
) -> None:
    action = decision.action
    if raised:
        await note(
            connection,
            sql,
            current.id,
            now,
            "priority_raised",
            f"priority {current.priority.value} -> {decision.incident.priority.value}",
        )
    if action is IncidentAction.JOIN:
        await note(connection, sql, current.id, now, "event_joined", event.summary)
    elif action is IncidentAction.REOPEN:
        await note(connection, sql, current.id, now, "reopened", event.summary)
    elif action is IncidentAction.RESOLVE:
        await note(connection, sql, current.id, now, "resolved", "all events recovered")
    elif action is IncidentAction.COMMENT:
        mail = event.mail
        await note(
            connection,
            sql,
            current.id,
            now,
            "comment",
            mail.body if mail else event.summary,
            author=mail.sender if mail and mail.sender else event.source,
            data=mail_data(event),
            visibility=visibility_of("comment", from_person=mail is not None),
        )


async def record_thread(
    connection: QueryRunner, sql: Sql, event: Event, incident_id: int, now: datetime
) -> None:
    if event.mail is None or not event.mail.message_id:
        return
    await connection.execute_query(
        sql(
            "INSERT INTO mail_threads (message_id, incident_id, direction, created_at) "
            "VALUES (?, ?, 'in', ?) ON CONFLICT (message_id) DO NOTHING"
        ),
        [event.mail.message_id[:255], incident_id, sql.time(now)],
    )


def mail_data(event: Event) -> dict[str, Any]:
    """What a timeline entry keeps of the mail behind it: its Message-ID and what was
    attached (name, type, size, SHA-256; the bytes stay in the raw intake record)."""
    mail = event.mail
    if mail is None:
        return {}
    data: dict[str, Any] = {"message_id": mail.message_id}
    if mail.attachments:
        data["attachments"] = [
            {
                "filename": item.filename,
                "content_type": item.content_type,
                "size": item.size,
                "sha256": item.sha256,
                "inline": item.inline,
            }
            for item in mail.attachments[:_TIMELINE_ATTACHMENTS]
        ]
    return data
