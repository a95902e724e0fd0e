"""The replay ledger: signatures of HMAC-signed requests already accepted.

A signed request carries its own time, and is refused once that time is
older than the integration's window; within the window, the same bytes sent
again would be accepted again. Each accepted signature is recorded, in the
same transaction as the record it signed, under a unique key (integration,
digest of the signature): of two identical requests only one can commit, on
one daemon or on several replicas sharing a PostgreSQL database. A record
that is not stored leaves no row, so a sender told to retry can send the same
bytes again. A row is needed only while its signature is inside the window:
the periodic job deletes it after that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.atomic import QueryRunner
from storage.database import Dialect
from storage.sql import Sql

# rows outlive their window by this much: replicas' clocks may be a little apart
_GRACE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class SignatureClaim:
    """One accepted signature: whose, which (a digest of it) and until when it could be
    replayed."""

    integration: str
    digest: str  # hex SHA-256 of the signature, 64 characters
    expires_at: datetime

    @property
    def key(self) -> tuple[str, str]:
        return self.integration, self.digest


def ledger_ddl(dialect: Dialect) -> str:
    """The table (schema version 7)."""
    timestamp = "TIMESTAMPTZ" if dialect is Dialect.POSTGRES else "TIMESTAMP"
    without_rowid = "" if dialect is Dialect.POSTGRES else " WITHOUT ROWID"
    return (
        'CREATE TABLE IF NOT EXISTS "seen_signatures" ('
        '"integration" VARCHAR(64) NOT NULL, "digest" VARCHAR(64) NOT NULL, '
        f'"expires_at" {timestamp} NOT NULL, '
        f'PRIMARY KEY ("integration", "digest")){without_rowid};\n'
        'CREATE INDEX IF NOT EXISTS "idx_seen_signatures_expires" '
        'ON "seen_signatures" ("expires_at")'
    )


async def record_claims(
    runner: QueryRunner, sql: Sql, claims: Sequence[SignatureClaim]
) -> set[tuple[str, str]]:
    """Record ``claims`` (distinct keys) in the caller's transaction; return the keys
    recorded now. A key already there (or being recorded by a concurrent transaction that
    then commits) is left out: that request is a replay."""
    if not claims:
        return set()
    marks = ", ".join("(?, ?, ?)" for _ in claims)
    values: list[object] = []
    for claim in claims:
        values.extend((claim.integration, claim.digest, sql.time(claim.expires_at)))
    rows = await runner.execute_query_dict(
        sql(
            f"INSERT INTO seen_signatures (integration, digest, expires_at) VALUES {marks} "
            "ON CONFLICT (integration, digest) DO NOTHING RETURNING integration, digest"
        ),
        values,
    )
    return {(row["integration"], row["digest"]) for row in rows}


async def forget_expired(runner: QueryRunner, sql: Sql, now: datetime) -> int:
    """Delete the rows whose signatures can no longer be replayed; how many went."""
    rows = await runner.execute_query_dict(
        sql("DELETE FROM seen_signatures WHERE expires_at < ? RETURNING digest"),
        [sql.time(now - _GRACE)],
    )
    return len(rows)
