"""Mail to requesters after the fact: status change notices and the satisfaction survey.

The recent public status changes are read from the timeline; each becomes at most
one outbox row (its idempotency key names the timeline entry, or the incident for
the survey), so every replica may look and one row results. Per requester, no more
than ``max_per_sender`` such rows in a window are queued (the rows are the count).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.outbox import OutboxAction
from storage.database import Database, reads_database
from storage.forwarding import queue
from storage.sql import Sql, as_json
from storage.views import _query

_READ_AT_MOST = 500


@dataclass(frozen=True, slots=True)
class Change:
    entry_id: int
    kind: str
    incident_id: int
    requester: str
    title: str
    source: str  # the mailbox (or the portal) of the incident's first event
    mail_kind: str  # that event's labels.mail_kind ("new", "reply", "monitoring", ...)


def _change(row: Any) -> Change:
    labels = as_json(row["labels"]) or {}
    return Change(
        entry_id=int(row["entry_id"]),
        kind=str(row["kind"]),
        incident_id=int(row["incident_id"]),
        requester=str(row["requester"]).strip().lower(),
        title=str(row["title"]),
        source=str(row["source"] or ""),
        mail_kind=str(labels.get("mail_kind", "")) if isinstance(labels, dict) else "",
    )


def sender_tag(address: str) -> str:
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:32]


class RequesterMail:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._sql = Sql(db.dialect)

    @reads_database("reading recent status changes")
    async def recent_changes(self, since: datetime, kinds: Iterable[str]) -> list[Change]:
        names = sorted(set(kinds))
        if not names:
            return []
        first = (
            "SELECT {column} FROM events e WHERE e.incident_id = t.incident_id "
            "ORDER BY e.id LIMIT 1"
        )
        marks = ", ".join("?" for _ in names)
        rows = await _query(
            "SELECT t.id AS entry_id, t.kind, t.incident_id, i.requester, i.title, "
            f"({first.format(column='e.source')}) AS source, "
            f"({first.format(column='e.labels')}) AS labels "
            "FROM timeline t JOIN incidents i ON i.id = t.incident_id "
            f"WHERE t.at >= ? AND t.visibility = 'public' AND t.kind IN ({marks}) "
            "AND i.requester <> '' ORDER BY t.id LIMIT ?",
            [self._sql.time(since), *names, _READ_AT_MOST],
        )
        return [_change(row) for row in rows]

    async def queue(
        self,
        change: Change,
        *,
        sink: str,
        action: OutboxAction,
        once_per_incident: bool,
        max_per_sender: int,
        window: timedelta,
        now: datetime,
    ) -> bool:
        """Queue one mail about ``change``; False when it was queued before or the
        requester had ``max_per_sender`` such mails within ``window``."""
        sql = self._sql
        tag = sender_tag(change.requester)
        cause = tag if once_per_incident else f"{change.entry_id}:{tag}"
        key = f"{change.incident_id}:{sink}:{action.value}:{cause}"
        async with self._db.transaction() as connection:
            rows = await connection.execute_query_dict(
                sql(
                    "SELECT COUNT(*) AS n FROM outbox WHERE sink = ? "
                    "AND action IN ('notify', 'survey') AND created_at >= ? "
                    "AND idempotency_key LIKE ?"
                ),
                [sink, sql.time(now - window), f"%:{tag}"],
            )
            if int(rows[0]["n"]) >= max_per_sender:
                return False
            done = await connection.execute_query_dict(
                sql("SELECT 1 AS found FROM outbox WHERE idempotency_key = ?"), [key]
            )
            if done:
                return False
            await queue(
                connection,
                sql,
                incident_id=change.incident_id,
                sinks=(sink,),
                action=action,
                cause=cause,
                payload={
                    "answer": {
                        "to": change.requester,
                        "subject": change.title,
                        "change": change.kind,
                    }
                },
                now=now,
            )
        return True
