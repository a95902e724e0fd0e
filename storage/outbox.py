"""The outbox: forwarding work written with its cause, claimed and settled by the dispatcher.

Order per incident and sink comes from the rows' state, not from locks: a
row is claimable only while no earlier row of the same incident and sink is
still pending, so the next one waits until the one before it is delivered or
dead-lettered, whichever replica holds it. A claim is a lease: a replica that
dies leaves rows whose ``lease_until`` passes, and another replica takes them.
On PostgreSQL ``FOR UPDATE SKIP LOCKED`` keeps replicas from waiting on each
other; on SQLite one process owns the file, so the same query runs without it.

``attempts`` counts claims, so a row claimed again after a crash (attempts
above 1) is known to have possibly reached the sink already.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from core.outbox import OutboxAction
from storage import models
from storage.database import Dialect
from storage.outbox_reads import DEAD, DELIVERED, PENDING, OutboxReads

_COALESCIBLE = tuple(action.value for action in OutboxAction if action.coalescible)
_MERGE_LIMIT = 200  # rows merged into one delivery at most; the rest follow in the next
_TEXT_KEPT = 4000


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    incident_id: int | None
    sink: str
    action: OutboxAction
    idempotency_key: str
    payload: Mapping[str, Any]
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Claim:
    """A head row and the pending update/comment rows merged onto it."""

    head: OutboxItem
    followers: tuple[OutboxItem, ...] = ()

    @property
    def ids(self) -> list[int]:
        return [self.head.id, *(item.id for item in self.followers)]

    @property
    def items(self) -> tuple[OutboxItem, ...]:
        return (self.head, *self.followers)


def _item(row: models.OutboxRow) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        incident_id=row.incident_id,
        sink=row.sink,
        action=OutboxAction(row.action),
        idempotency_key=row.idempotency_key,
        payload=row.payload or {},
        attempts=row.attempts,
        created_at=row.created_at,
    )


async def enqueue(
    connection: BaseDBAsyncClient,
    *,
    incident_id: int | None,
    sink: str,
    action: OutboxAction,
    idempotency_key: str,
    payload: Mapping[str, Any],
    now: datetime,
) -> None:
    """Write one row of forwarding work, in the caller's transaction."""
    await models.OutboxRow.create(
        using_db=connection,
        incident_id=incident_id,
        sink=sink,
        action=action.value,
        idempotency_key=idempotency_key[:255],
        payload=dict(payload),
        next_attempt_at=now,
        created_at=now,
    )


class OutboxStore(OutboxReads):
    """The queue: claimed, settled, rescheduled, dead-lettered, handed over."""

    async def claim(self, sink: str, limit: int, now: datetime, lease: timedelta) -> list[Claim]:
        """Lease up to ``limit`` due head rows of ``sink``, each with its mergeable followers."""
        if limit <= 0:
            return []
        lock = " FOR UPDATE SKIP LOCKED" if self._db.dialect is Dialect.POSTGRES else ""
        m = self._mark
        # the head of each incident's queue: one grouped pass over the sink's pending
        # rows, which stays linear however the planner guesses (a correlated
        # NOT EXISTS went quadratic on a fresh table)
        due_sql = (
            "SELECT o.id FROM outbox o WHERE o.id IN ("
            f"SELECT MIN(p.id) FROM outbox p WHERE p.sink = {m(1)} AND p.state = 'pending' "
            "GROUP BY p.incident_id) "
            f"AND o.next_attempt_at <= {m(2)} "
            f"AND (o.lease_until IS NULL OR o.lease_until < {m(3)}) "
            f"ORDER BY o.next_attempt_at, o.id LIMIT {m(4)}{lock}"
        )
        async with self._db.transaction() as connection:
            _, found = await connection.execute_query(due_sql, [sink, now, now, limit])
            head_ids = [int(row["id"]) for row in found]
            if not head_ids:
                return []
            heads = await models.OutboxRow.filter(id__in=head_ids).using_db(connection)
            claims = [
                Claim(_item(row), await self._followers(connection, row))
                for row in sorted(heads, key=lambda row: head_ids.index(row.id))
            ]
            ids = [row_id for claim in claims for row_id in claim.ids]
            await connection.execute_query(
                f"UPDATE outbox SET lease_owner = {m(1)}, lease_until = {m(2)}, "
                f"attempts = attempts + 1 WHERE id IN ({self._db.placeholders(len(ids), 3)})",
                [self._owner, now + lease, *ids],
            )
        return [
            Claim(
                _bump(claim.head),
                tuple(_bump(item) for item in claim.followers),
            )
            for claim in claims
        ]

    async def _followers(
        self, connection: BaseDBAsyncClient, head: models.OutboxRow
    ) -> tuple[OutboxItem, ...]:
        """The run of pending update/comment rows right after ``head``."""
        if head.action not in _COALESCIBLE or head.incident_id is None:
            return ()
        rows = (
            await models.OutboxRow.filter(
                incident_id=head.incident_id, sink=head.sink, state=PENDING, id__gt=head.id
            )
            .using_db(connection)
            .order_by("id")
            .limit(_MERGE_LIMIT)
        )
        run: list[OutboxItem] = []
        for row in rows:
            if row.action not in _COALESCIBLE:
                break  # a create/resolve/reopen keeps its place in the order
            run.append(_item(row))
        return tuple(run)

    async def _settle(self, ids: Sequence[int], **values: Any) -> int:
        async with self._db.transaction() as connection:
            return await self._settle_in(connection, ids, **values)

    @staticmethod
    async def _settle_in(connection: BaseDBAsyncClient, ids: Sequence[int], **values: Any) -> int:
        return (
            await models.OutboxRow.filter(id__in=list(ids), state=PENDING)
            .using_db(connection)
            .update(lease_owner=None, lease_until=None, **values)
        )

    async def delivered(self, done: Sequence[tuple[Claim, datetime, str]]) -> None:
        """Mark deliveries done, many in one transaction (one fsync for a burst)."""
        async with self._db.transaction() as connection:
            for claim, now, response in done:
                merged = f" (and {len(claim.followers)} merged rows)" if claim.followers else ""
                await self._settle_in(
                    connection,
                    claim.ids,
                    state=DELIVERED,
                    delivered_at=now,
                    last_error=None,
                    response=(response + merged)[:_TEXT_KEPT],
                )

    async def reschedule(
        self, claim: Claim, when: datetime, error: str | None, response: str | None
    ) -> None:
        """Try again at ``when``; with no error this is a deferral (throttle, open circuit),
        which does not count as an attempt."""
        values: dict[str, Any] = {"next_attempt_at": when}
        if error is not None:
            values["last_error"] = error[:_TEXT_KEPT]
            values["response"] = (response or "")[:_TEXT_KEPT]
        else:
            values["attempts"] = F("attempts") - 1
        await self._settle(claim.ids, **values)

    async def blocked_behind(self, claim: Claim) -> bool:
        """Whether later rows of the claim's incident and sink, other than comments, wait
        for it. A comment that came meanwhile only joins the deferred ones (the next
        claim merges them); anything else must not wait behind the comment throttle."""
        if claim.head.incident_id is None:
            return False
        return (
            await models.OutboxRow.filter(
                incident_id=claim.head.incident_id,
                sink=claim.head.sink,
                state=PENDING,
                id__gt=max(claim.ids),
            )
            .exclude(action=OutboxAction.COMMENT.value)
            .exists()
        )

    async def dead_letter(
        self,
        claim: Claim,
        now: datetime,
        error: str,
        response: str,
        fallback: str | None = None,
    ) -> None:
        """Give up on the rows, keeping why; with a fallback sink, hand them over durably.

        For a dead row ``next_attempt_at`` records when it was given up.
        """
        async with self._db.transaction() as connection:
            await self._settle_in(
                connection,
                claim.ids,
                state=DEAD,
                next_attempt_at=now,
                last_error=error[:_TEXT_KEPT],
                response=response[:_TEXT_KEPT],
            )
            if fallback is not None:
                await self._hand_over(connection, claim, fallback, now)

    async def hand_over(self, claim: Claim, fallback: str, now: datetime) -> None:
        """Queue the claim's rows on ``fallback`` too (once per row, by key)."""
        async with self._db.transaction() as connection:
            await self._hand_over(connection, claim, fallback, now)

    async def _hand_over(
        self, connection: BaseDBAsyncClient, claim: Claim, fallback: str, now: datetime
    ) -> None:
        m = self._mark
        for item in claim.items:
            await connection.execute_query(
                "INSERT INTO outbox (incident_id, sink, action, idempotency_key, payload, state, "
                "attempts, next_attempt_at, created_at) "
                f"VALUES ({m(1)}, {m(2)}, {m(3)}, {m(4)}, {m(5)}, 'pending', 0, {m(6)}, {m(7)}) "
                "ON CONFLICT (idempotency_key) DO NOTHING",
                [
                    item.incident_id,
                    fallback,
                    item.action.value,
                    f"{item.idempotency_key}:fallback:{fallback}"[:255],
                    _json(item.payload),
                    now,
                    now,
                ],
            )

    async def release(self, claim: Claim) -> None:
        """Give the lease back unchanged (shutdown); the next claim treats it as uncertain."""
        await self._settle(claim.ids)

    async def release_all_leases(self) -> int:
        """At start, release the leases of a dead predecessor: on SQLite every lease (one
        process per file), on PostgreSQL those under this replica's name (an ``instance``
        name is one replica's; the default, hostname:pid, is never a live one's). The
        rows come back as uncertain: a create is looked up before it is sent again."""
        held = models.OutboxRow.filter(state=PENDING, lease_until__isnull=False)
        if self._db.dialect is not Dialect.SQLITE:
            held = held.filter(lease_owner=self._owner)
        async with self._db.transaction() as connection:
            return await held.using_db(connection).update(lease_owner=None, lease_until=None)


def _bump(item: OutboxItem) -> OutboxItem:
    """The claim counted one more attempt in the database; mirror it."""
    return replace(item, attempts=item.attempts + 1)


def _json(value: Mapping[str, Any]) -> str:
    return orjson.dumps(dict(value)).decode()
