"""What an audit samples: every incident of a period as JSON, and for one incident the
raw intake records behind it (by reference: id, channel, size, sha256 of the bytes)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

from storage.database import Database, reads_database
from storage.report_sql import Period, ReportSql
from storage.sql import as_time
from storage.views import incident_json

_PAGE = 1000
_RECORDS_LISTED = 200


class EvidenceStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._sql = ReportSql(db.dialect)

    async def incidents(self, period: Period) -> AsyncIterator[list[dict[str, Any]]]:
        """Incidents opened in the period, oldest first, a page at a time."""
        after = 0
        while True:
            page = await self._page(period, after)
            if not page:
                return
            yield page
            after = int(page[-1]["id"])

    @reads_database("reading incidents")
    async def _page(self, period: Period, after: int) -> list[dict[str, Any]]:
        where, values = self._sql.incidents_in(period)
        _, rows = await self._db.connection.execute_query(
            self._sql(
                f"SELECT * FROM incidents i WHERE {where} AND i.id > ? ORDER BY i.id LIMIT ?"
            ),
            [*values, after, _PAGE],
        )
        ids = [int(row["id"]) for row in rows]
        refs: dict[int, list[dict[str, Any]]] = {}
        if ids:
            marks = ", ".join("?" for _ in ids)
            _, found = await self._db.connection.execute_query(
                self._sql(
                    "SELECT incident_id, sink, ticket_id, url FROM external_refs "
                    f"WHERE incident_id IN ({marks}) ORDER BY id"
                ),
                ids,
            )
            for ref in found:
                refs.setdefault(int(ref["incident_id"]), []).append(dict(ref))
        return [incident_json(dict(row), refs.get(int(row["id"]), [])) for row in rows]

    @reads_database("reading intake records")
    async def intake_references(self, incident_id: int) -> list[dict[str, Any]]:
        """The raw records whose events reached the incident, each with the sha256 of
        its stored bytes (to compare with the record itself, or a copy the sender kept)."""
        _, rows = await self._db.connection.execute_query(
            self._sql(
                "SELECT r.id, r.channel, r.source, r.kind, r.received_at, r.size, r.body "
                "FROM intake_records r WHERE r.id IN (SELECT o.intake_id FROM occurrences o "
                "WHERE o.incident_id = ? AND o.intake_id IS NOT NULL) ORDER BY r.id LIMIT ?"
            ),
            [incident_id, _RECORDS_LISTED],
        )
        found = []
        for row in rows:
            received = as_time(row["received_at"])
            found.append(
                {
                    "id": int(row["id"]),
                    "channel": row["channel"],
                    "source": row["source"],
                    "kind": row["kind"],
                    "received_at": received.isoformat() if received else None,
                    "size": int(row["size"]),
                    "sha256": hashlib.sha256(bytes(row["body"] or b"")).hexdigest(),
                }
            )
        return found
