"""Leases for work that one replica at a time does for as long as it runs.

Polling an IMAP folder is such work: it cannot sit inside one transaction
(as the periodic job's advisory lock does), so the replica that polls holds
a row until a time and extends it while it polls. When it dies, the row runs
out and another replica takes it. Times are the database server's, so the
replicas' clocks do not need to agree. SQLite needs none: one daemon per
database file.
"""

from __future__ import annotations

from storage.atomic import write_statement
from storage.database import Database, Dialect

_HOLD = (
    "INSERT INTO leases (name, owner, expires_at) "
    "VALUES ($1, $2, now() + make_interval(secs => $3)) "
    "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
    "WHERE leases.owner = excluded.owner OR leases.expires_at <= now() "
    "RETURNING owner"
)
_RELEASE = "DELETE FROM leases WHERE name = $1 AND owner = $2 RETURNING name"


class LeaseStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def shared(self) -> bool:
        """Whether other replicas may share the database (PostgreSQL)."""
        return self._db.dialect is Dialect.POSTGRES

    async def hold(self, name: str, owner: str, seconds: float) -> bool:
        """Take the lease ``name`` for ``seconds``, or extend it if ``owner`` holds it;
        False while another owner's lease runs. Always True on SQLite."""
        if not self.shared:
            return True
        rows = await write_statement(self._db, _HOLD, [name, owner, float(seconds)], "lease")
        return bool(rows)

    async def release(self, name: str, owner: str) -> bool:
        """Give the lease up at once (a clean stop), if ``owner`` still holds it."""
        if not self.shared:
            return True
        rows = await write_statement(self._db, _RELEASE, [name, owner], "lease release")
        return bool(rows)
