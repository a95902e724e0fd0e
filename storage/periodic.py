"""Rows for the periodic job: hold-down resolutions, auto-close, SLA escalations.

The decisions come from the rule set's pure helpers; this module only reads
the incidents they need and writes what they decided, with timeline entries
and forwarding work in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.outbox import OutboxAction
from rules.decision import IncidentState, Priority
from rules.sla import Escalation, SlaClock
from storage.atomic import QueryRunner
from storage.forwarding import queue
from storage.incident_state import incident_columns, incident_routes, incident_state
from storage.incidents import IncidentStore
from storage.locks import try_advisory_lock
from storage.signatures import forget_expired
from storage.sql import as_json, as_time
from storage.timeline import note

_BATCH = 500


class PeriodicStore:
    def __init__(self, incidents: IncidentStore) -> None:
        self._incidents = incidents
        self.sql = incidents.sql

    async def try_lock(self, connection: QueryRunner, key: int) -> bool:
        """One replica at a time: ``connection``'s transaction holds the lock for the run."""
        return await try_advisory_lock(connection, self.sql, key)

    async def forget_signatures(self, connection: QueryRunner, now: datetime) -> int:
        """Drop replay-ledger rows whose signatures are out of their window."""
        return await forget_expired(connection, self.sql, now)

    async def holding_down(self, connection: QueryRunner) -> list[IncidentState]:
        rows = await connection.execute_query_dict(
            self.sql(
                f"SELECT {incident_columns(self.sql)} FROM incidents "
                "WHERE status IN ('new', 'acknowledged', 'pending') "
                "AND resolve_after IS NOT NULL ORDER BY resolve_after LIMIT ?"
            ),
            [_BATCH],
        )
        return [incident_state(row) for row in rows]

    async def resolved(self, connection: QueryRunner, before: datetime) -> list[IncidentState]:
        rows = await connection.execute_query_dict(
            self.sql(
                f"SELECT {incident_columns(self.sql)} FROM incidents WHERE status = 'resolved' "
                "AND resolved_at <= ? ORDER BY resolved_at LIMIT ?"
            ),
            [self.sql.time(before), _BATCH],
        )
        return [incident_state(row) for row in rows]

    async def resolve(
        self, connection: QueryRunner, incident_id: int, now: datetime, reason: str
    ) -> bool:
        """Resolve an incident whose hold-down is over; False if it no longer is.

        The incidents were read without a lock: meanwhile an event may have
        fired again (the pipeline cleared ``resolve_after``) or someone may
        have resolved it, so the update checks again and nothing is noted or
        forwarded unless it changed the row.
        """
        now_text = self.sql.time(now)
        changed, _ = await connection.execute_query(
            self.sql(
                "UPDATE incidents SET status = 'resolved', open_key = NULL, resolved_at = ?, "
                "resolve_after = NULL, updated_at = ? WHERE id = ? "
                "AND status IN ('new', 'acknowledged', 'pending') AND resolve_after <= ?"
            ),
            [now_text, now_text, incident_id, now_text],
        )
        if not changed:
            return False
        await note(connection, self.sql, incident_id, now, "resolved", reason)
        await self._forward(
            connection, incident_id, OutboxAction.RESOLVE, f"hold-down:{now.isoformat()}", now
        )
        return True

    async def close(self, connection: QueryRunner, incident_id: int, now: datetime) -> bool:
        """Close a resolved incident; False if it was reopened or closed meanwhile."""
        changed, _ = await connection.execute_query(
            self.sql(
                "UPDATE incidents SET status = 'closed', closed_at = ?, updated_at = ? "
                "WHERE id = ? AND status = 'resolved'"
            ),
            [self.sql.time(now), self.sql.time(now), incident_id],
        )
        if not changed:
            return False
        await note(
            connection, self.sql, incident_id, now, "closed", "closed after staying resolved"
        )
        await self._forward(connection, incident_id, OutboxAction.CLOSE, "", now)
        return True

    async def sla_clocks(self, connection: QueryRunner) -> list[SlaClock]:
        rows = await connection.execute_query_dict(
            self.sql(
                "SELECT id, priority, service, created_at, response_due, resolution_due, "
                "acknowledged_at, escalated, sla_calendar FROM incidents "
                "WHERE status IN ('new', 'acknowledged') AND resolution_breached = ? "
                "AND (response_due IS NOT NULL OR resolution_due IS NOT NULL) "
                "ORDER BY id LIMIT ?"
            ),
            [False, _BATCH * 4],
        )
        return [_clock(row) for row in rows]

    async def escalate(
        self, connection: QueryRunner, escalation: Escalation, now: datetime
    ) -> None:
        sql = self.sql
        row = await connection.execute_query_dict(
            sql(f"SELECT escalated, priority FROM incidents WHERE id = ?{sql.for_update()}"),
            [escalation.incident_id],
        )
        if not row:
            return
        done = set(as_json(row[0]["escalated"]) or [])
        if escalation.key in done:
            return  # another pass got here first
        done.add(escalation.key)
        assignments = ["escalated = ?", "updated_at = ?"]
        values: list[Any] = [sql.json(sorted(done)), sql.time(now)]
        if escalation.level == "breach":
            assignments.append(f"{escalation.clock}_breached = ?")
            values.append(True)
        action = escalation.action
        raise_to = action.raise_priority
        if raise_to is not None and raise_to.rank < Priority(row[0]["priority"]).rank:
            assignments.append("priority = ?")
            values.append(raise_to.value)
        if action.assignment_group:
            assignments.append("assignment_group = ?")
            values.append(action.assignment_group)
        await connection.execute_query(
            sql(f"UPDATE incidents SET {', '.join(assignments)} WHERE id = ?"),
            [*values, escalation.incident_id],
        )
        entry = escalation.note
        await note(
            connection, sql, escalation.incident_id, now, entry.kind, entry.text, data=entry.data
        )
        await queue(
            connection,
            sql,
            incident_id=escalation.incident_id,
            sinks=action.routes,
            action=OutboxAction.ESCALATE,
            cause=escalation.key,
            now=now,
            payload={
                "escalation": {
                    "kind": escalation.clock,
                    "level": escalation.level,
                    "due": entry.data.get("due", ""),
                }
            },
        )

    async def _forward(
        self,
        connection: QueryRunner,
        incident_id: int,
        action: OutboxAction,
        cause: str,
        now: datetime,
    ) -> None:
        """To every sink that holds the incident's ticket or was sent it."""
        await queue(
            connection,
            self.sql,
            incident_id=incident_id,
            sinks=await incident_routes(connection, self.sql, incident_id),
            action=action,
            cause=cause,
            payload={},
            now=now,
        )


def _clock(row: dict[str, Any]) -> SlaClock:
    created = as_time(row["created_at"])
    assert created is not None
    return SlaClock(
        incident_id=int(row["id"]),
        priority=Priority(row["priority"]),
        service=row["service"] or "",
        opened_at=created,
        response_due=as_time(row["response_due"]),
        resolution_due=as_time(row["resolution_due"]),
        responded=row["acknowledged_at"] is not None,
        escalated=frozenset(as_json(row["escalated"]) or []),
        calendar=row["sla_calendar"] or "",
    )
