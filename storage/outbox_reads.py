"""What the outbox remembers and shows beside its queue: the outside tickets and the
Message-IDs sent, the incidents read fresh for a delivery, the depth per sink, and
the dead letters (listed, and sent again on request)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import StorageUnavailable
from core.outbox import OutboxAction, TicketRef
from storage import audit, models
from storage.audit import Operator
from storage.database import DATABASE_ERRORS, Database
from storage.views import incident_json

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    incident_id: int | None
    sink: str
    action: str
    idempotency_key: str
    attempts: int
    last_error: str
    response: str
    created_at: datetime
    given_up_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "incident_id": self.incident_id,
            "sink": self.sink,
            "action": self.action,
            "idempotency_key": self.idempotency_key,
            "attempts": self.attempts,
            "error": self.last_error,
            "response": self.response,
            "created_at": _iso(self.created_at),
            "given_up_at": _iso(self.given_up_at),
        }


@dataclass(frozen=True, slots=True)
class SinkDepth:
    pending: int = 0
    oldest_pending: datetime | None = None
    dead: int = 0


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _stamp(value: Any) -> datetime | None:
    """SQLite hands aggregates back as text; PostgreSQL as datetimes."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


class OutboxReads:
    def __init__(self, db: Database, owner: str) -> None:
        self._db = db
        self._owner = owner[:128]

    def _mark(self, index: int) -> str:
        return self._db.placeholder(index)

    async def ticket(self, incident_id: int, sink: str) -> TicketRef | None:
        row = await models.ExternalRef.filter(incident_id=incident_id, sink=sink).first()
        return TicketRef(row.ticket_id, row.url) if row else None

    async def remember_ticket(
        self, incident_id: int, sink: str, ticket: TicketRef, now: datetime
    ) -> None:
        """Record the outside ticket on first success; a second record is a no-op."""
        m = self._mark
        async with self._db.transaction() as connection:
            await connection.execute_query(
                "INSERT INTO external_refs (incident_id, sink, ticket_id, url, created_at) "
                f"VALUES ({m(1)}, {m(2)}, {m(3)}, {m(4)}, {m(5)}) "
                "ON CONFLICT (incident_id, sink) DO NOTHING",
                [incident_id, sink, ticket.ticket_id[:255], ticket.url, now],
            )

    async def remember_messages(
        self, incident_id: int, message_ids: Sequence[str], now: datetime
    ) -> None:
        """Sent Message-IDs, so that a reply to any of them (or a bounce of it) threads back
        to the incident. Kept without angle brackets, as the email parser reads them."""
        m = self._mark
        async with self._db.transaction() as connection:
            for message_id in message_ids:
                bare = message_id.strip().strip("<>").strip()
                if not bare:
                    continue
                await connection.execute_query(
                    "INSERT INTO mail_threads (message_id, incident_id, direction, created_at) "
                    f"VALUES ({m(1)}, {m(2)}, 'out', {m(3)}) ON CONFLICT (message_id) DO NOTHING",
                    [bare[:255], incident_id, now],
                )

    async def incidents(self, incident_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The incidents as the API shows them, read fresh for a batch of deliveries."""
        wanted = sorted(set(incident_ids))
        if not wanted:
            return {}
        rows = await models.Incident.filter(id__in=wanted)
        refs: dict[int, list[models.ExternalRef]] = {}
        for ref in await models.ExternalRef.filter(incident_id__in=wanted):
            refs.setdefault(ref.incident_id, []).append(ref)
        return {row.id: incident_json(row, refs.get(row.id, [])) for row in rows}

    async def last_delivered(
        self, incident_id: int, sink: str, action: OutboxAction
    ) -> datetime | None:
        row = (
            await models.OutboxRow.filter(
                incident_id=incident_id, sink=sink, action=action.value, state=DELIVERED
            )
            .order_by("-delivered_at")
            .first()
        )
        return row.delivered_at if row else None

    async def depth(self) -> dict[str, SinkDepth]:
        """Pending and dead rows per sink, and the oldest pending row's creation time."""
        try:
            _, rows = await self._db.connection.execute_query(
                "SELECT sink, state, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox "
                "WHERE state IN ('pending', 'dead') GROUP BY sink, state"
            )
        except DATABASE_ERRORS as exc:
            raise StorageUnavailable(f"cannot count the outbox: {exc}") from exc
        found: dict[str, SinkDepth] = {}
        for row in rows:
            current = found.get(row["sink"], SinkDepth())
            if row["state"] == PENDING:
                current = SinkDepth(int(row["n"]), _stamp(row["oldest"]), current.dead)
            else:
                current = SinkDepth(current.pending, current.oldest_pending, int(row["n"]))
            found[row["sink"]] = current
        return found

    async def dead_letters(
        self, sink: str | None = None, before: int | None = None, limit: int = 50
    ) -> list[DeadLetter]:
        query = models.OutboxRow.filter(state=DEAD)
        if sink:
            query = query.filter(sink=sink)
        if before is not None:
            query = query.filter(id__lt=before)
        rows = await query.order_by("-id").limit(limit)
        return [
            DeadLetter(
                id=row.id,
                incident_id=row.incident_id,
                sink=row.sink,
                action=row.action,
                idempotency_key=row.idempotency_key,
                attempts=row.attempts,
                last_error=row.last_error or "",
                response=row.response or "",
                created_at=row.created_at,
                given_up_at=row.next_attempt_at,
            )
            for row in rows
        ]

    async def retry_dead(self, row_id: int, now: datetime, by: Operator | None) -> bool:
        """A dead letter back to pending, attempts reset; its age counts from now.
        ``by``: the operator asking, recorded in the audit log with the change."""
        async with self._db.transaction() as connection:
            updated = (
                await models.OutboxRow.filter(id=row_id, state=DEAD)
                .using_db(connection)
                .update(
                    state=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    lease_owner=None,
                    lease_until=None,
                )
            )
            if updated:
                await audit.record_as(
                    connection, by, "dead_letter.retry", f"outbox:{row_id}", at=now
                )
        return updated > 0
