"""The steps of the schema's history, one function per version (storage/migrations.py
lists them and runs the ones a database has not had yet). A step runs in the
transaction that stamps its version; it must be safe on a schema created from the
models when its migration says ``on_new_schema``."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from storage.database import Dialect
from storage.rollup import TABLE_DDL, build_statements
from storage.signatures import ledger_ddl
from storage.silence_holds import silence_holds_ddl
from storage.sql import Sql


async def nothing(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 1 is the initial schema, created from the models."""


async def leases(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 2: leases for work one replica at a time does (IMAP folders)."""
    timestamp = "TIMESTAMPTZ" if dialect is Dialect.POSTGRES else "TIMESTAMP"
    await connection.execute_script(
        'CREATE TABLE IF NOT EXISTS "leases" ('
        '"name" VARCHAR(255) NOT NULL PRIMARY KEY, '
        '"owner" VARCHAR(128) NOT NULL, '
        f'"expires_at" {timestamp} NOT NULL)'
    )


async def bare_sent_ids(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 3: Message-IDs of sent mail without angle brackets, as replies are read
    (they were kept with them, so a reply to a sent mail did not thread back)."""
    bare = (
        "trim(both '<> ' from message_id)"
        if dialect is Dialect.POSTGRES
        else "trim(message_id, '<> ')"
    )
    sent = "direction = 'out' AND message_id LIKE '<%'"
    await connection.execute_query(  # the bare form already stored: keep that row
        f"DELETE FROM mail_threads WHERE {sent} AND {bare} IN (SELECT message_id FROM mail_threads)"
    )
    await connection.execute_query(f"UPDATE mail_threads SET message_id = {bare} WHERE {sent}")


async def reply_index(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 4: events by source and resource (a sender's mails, for replies found by
    subject)."""
    await connection.execute_script(
        'CREATE INDEX IF NOT EXISTS "idx_events_source_resource" ON "events" ("source", "resource")'
    )


# Firing, unsuppressed events by label: the inhibit sources of an event are found
# through the label pairs they must have, not by reading every firing event
# (with thousands firing, one payload's reads grew with the square of its size).
# SQLite (until version 17): a table of (name, value, event) kept by triggers, so
# every writer of events keeps it without knowing. PostgreSQL: a partial GIN index
# on the labels.
_FIRING = "NEW.status = 'firing' AND NEW.suppressed_by = ''"
_NEW_LABELS = (
    f"INSERT OR IGNORE INTO firing_labels (name, value, event_id) SELECT key, value, NEW.id "
    f"FROM json_each(CASE WHEN json_valid(NEW.labels) THEN NEW.labels ELSE '{{}}' END) "
    f"WHERE type = 'text' AND {_FIRING};"
)
_FIRING_LABELS_SQLITE = (
    'CREATE TABLE IF NOT EXISTS "firing_labels" ('
    '"name" TEXT NOT NULL, "value" TEXT NOT NULL, "event_id" INTEGER NOT NULL, '
    'PRIMARY KEY ("name", "value", "event_id")) WITHOUT ROWID;\n'
    'CREATE INDEX IF NOT EXISTS "idx_firing_labels_event" ON "firing_labels" ("event_id");\n'
    'CREATE TRIGGER IF NOT EXISTS "firing_labels_insert" AFTER INSERT ON "events" '
    f"BEGIN {_NEW_LABELS} END;\n"
    'CREATE TRIGGER IF NOT EXISTS "firing_labels_update" '
    'AFTER UPDATE OF labels, status, suppressed_by ON "events" '
    "WHEN OLD.labels IS NOT NEW.labels OR OLD.status IS NOT NEW.status "
    "OR OLD.suppressed_by IS NOT NEW.suppressed_by "
    f"BEGIN DELETE FROM firing_labels WHERE event_id = OLD.id; {_NEW_LABELS} END;\n"
    'CREATE TRIGGER IF NOT EXISTS "firing_labels_delete" AFTER DELETE ON "events" '
    "BEGIN DELETE FROM firing_labels WHERE event_id = OLD.id; END;\n"
    "DELETE FROM firing_labels;\n"
    "INSERT OR IGNORE INTO firing_labels (name, value, event_id) "
    "SELECT j.key, j.value, e.id FROM events AS e, json_each(CASE WHEN json_valid(e.labels) "
    "THEN e.labels ELSE '{}' END) AS j "
    "WHERE j.type = 'text' AND e.status = 'firing' AND e.suppressed_by = ''"
)
_FIRING_LABELS_POSTGRES = (
    'CREATE INDEX IF NOT EXISTS "idx_events_firing_labels" ON "events" '
    "USING gin (labels jsonb_path_ops) WHERE status = 'firing' AND suppressed_by = ''"
)


async def firing_labels(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 5: firing events found by their labels (inhibit sources)."""
    if dialect is Dialect.POSTGRES:
        await connection.execute_script(_FIRING_LABELS_POSTGRES)
    else:
        await connection.execute_script(_FIRING_LABELS_SQLITE)


async def applied_events(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 6: how many of a pending record's events are applied (a big record is
    applied in several transactions)."""
    if dialect is Dialect.SQLITE:  # no ADD COLUMN IF NOT EXISTS there
        _, columns = await connection.execute_query("PRAGMA table_info(intake_records)")
        if any(column["name"] == "applied_events" for column in columns):
            return
    exists = "IF NOT EXISTS " if dialect is Dialect.POSTGRES else ""
    await connection.execute_script(
        f'ALTER TABLE "intake_records" ADD COLUMN {exists}"applied_events" INT NOT NULL DEFAULT 0'
    )


async def seen_signatures(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 7: signatures of accepted HMAC-signed requests, so a replay within the
    window is refused."""
    await connection.execute_script(ledger_ddl(dialect))


async def _add_column(
    connection: BaseDBAsyncClient, dialect: Dialect, table: str, column: str, spec: str
) -> None:
    if dialect is Dialect.SQLITE:  # no ADD COLUMN IF NOT EXISTS there
        _, columns = await connection.execute_query(f"PRAGMA table_info({table})")
        if any(item["name"] == column for item in columns):
            return
    exists = "IF NOT EXISTS " if dialect is Dialect.POSTGRES else ""
    await connection.execute_script(f'ALTER TABLE "{table}" ADD COLUMN {exists}"{column}" {spec}')


async def requester_view(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 8: what the requester sees: a visibility per timeline entry (status changes
    and mail comments public, the rest internal) and the satisfaction rating."""
    from storage.visibility import PUBLIC_KINDS

    timestamp = "TIMESTAMPTZ" if dialect is Dialect.POSTGRES else "TIMESTAMP"
    await _add_column(
        connection, dialect, "timeline", "visibility", "VARCHAR(8) NOT NULL DEFAULT 'internal'"
    )
    await _add_column(connection, dialect, "incidents", "rating", "SMALLINT")
    await _add_column(connection, dialect, "incidents", "rated_at", timestamp)
    kinds = ", ".join(f"'{kind}'" for kind in sorted(PUBLIC_KINDS))
    await connection.execute_query(
        f"UPDATE timeline SET visibility = 'public' WHERE kind IN ({kinds})"
    )
    # a comment is public when a mail made it (its Message-ID is kept), never an alert's
    mail_comment = (
        "data::jsonb ? 'message_id'"
        if dialect is Dialect.POSTGRES
        else "json_extract(data, '$.message_id') IS NOT NULL"
    )
    await connection.execute_query(
        f"UPDATE timeline SET visibility = 'public' WHERE kind = 'comment' AND {mail_comment}"
    )


# The audit log (storage.audit): append-only, refused UPDATE and DELETE by triggers.
_AUDIT_COLUMNS = (
    '"at" {time} NOT NULL, "actor" VARCHAR(128) NOT NULL, "via" VARCHAR(128) NOT NULL, '
    '"action" VARCHAR(64) NOT NULL, "subject" VARCHAR(255) NOT NULL, "details" TEXT NOT NULL, '
    '"prev_hash" CHAR(64) NOT NULL UNIQUE, "hash" CHAR(64) NOT NULL)'
)
_AUDIT_SQLITE = (
    'CREATE TABLE IF NOT EXISTS "audit_log" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, '
    + _AUDIT_COLUMNS.format(time="TIMESTAMP")
    + ';\nCREATE INDEX IF NOT EXISTS "idx_audit_log_at" ON "audit_log" ("at");\n'
    'CREATE TRIGGER IF NOT EXISTS "audit_log_no_update" BEFORE UPDATE ON "audit_log" '
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;\n"
    'CREATE TRIGGER IF NOT EXISTS "audit_log_no_delete" BEFORE DELETE ON "audit_log" '
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
)
_AUDIT_POSTGRES = (
    'CREATE TABLE IF NOT EXISTS "audit_log" ("id" BIGSERIAL PRIMARY KEY, '
    + _AUDIT_COLUMNS.format(time="TIMESTAMPTZ")
    + ';\nCREATE INDEX IF NOT EXISTS "idx_audit_log_at" ON "audit_log" ("at");\n'
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;\n"
    'DROP TRIGGER IF EXISTS "audit_log_append_only" ON "audit_log";\n'
    'CREATE TRIGGER "audit_log_append_only" BEFORE UPDATE OR DELETE ON "audit_log" '
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
)


async def audit_log(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 9: the hash-chained audit log of operator actions and reloads."""
    postgres = dialect is Dialect.POSTGRES
    await connection.execute_script(_AUDIT_POSTGRES if postgres else _AUDIT_SQLITE)


async def timeline_by_time(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 10: timeline entries by time (the requester notifications read the
    recent status changes)."""
    await connection.execute_script(
        'CREATE INDEX IF NOT EXISTS "idx_timeline_at" ON "timeline" ("at")'
    )


async def pending_since(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 11: since when an incident waits on its requester (status pending: its SLA
    clocks stand still)."""
    timestamp = "TIMESTAMPTZ" if dialect is Dialect.POSTGRES else "TIMESTAMP"
    await _add_column(connection, dialect, "incidents", "pending_since", timestamp)


async def merged_into(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 12: incidents merged into another (a duplicate closed into its survivor),
    found by their correlation key when a new event of that key finds nothing open."""
    await _add_column(connection, dialect, "incidents", "merged_into_id", "BIGINT")
    await connection.execute_script(
        'CREATE INDEX IF NOT EXISTS "idx_incidents_merged" ON "incidents" '
        '("correlation_key", "id") WHERE "merged_into_id" IS NOT NULL'
    )


async def intake_progress(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 13: the progress of a record applied in parts, in a row of its own (on
    SQLite, updating the record's row rewrote its whole body at every part)."""
    key = "BIGINT" if dialect is Dialect.POSTGRES else "INTEGER"  # SQLite: the rowid
    await connection.execute_script(
        'CREATE TABLE IF NOT EXISTS "intake_progress" ('
        f'"intake_id" {key} NOT NULL PRIMARY KEY, "applied_events" INT NOT NULL);\n'
        # a record under way when the program was upgraded goes on from there
        'INSERT INTO "intake_progress" ("intake_id", "applied_events") '
        'SELECT "id", "applied_events" FROM "intake_records" '
        """WHERE "state" = 'pending' AND "applied_events" > 0"""
    )


async def silence_holds(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 14: how many events each silence holds and when it last matched, kept by
    triggers on events (the console counted them by reading every suppressed event)."""
    await connection.execute_script(silence_holds_ddl(dialect))


_REPORT_INDEXES = (
    ("events", "idx_events_first_seen", "first_seen"),
    ("occurrences", "idx_occurrences_outcome_at", "outcome, at"),
    ("intake_records", "idx_intake_received_channel", "received_at, channel"),
    ("timeline", "idx_timeline_incident_kind", "incident_id, kind"),
)
# the events a maintenance window suppressed (noise tells them apart from silences)
_MAINTENANCE_INDEX = (
    'CREATE INDEX IF NOT EXISTS "idx_events_maintenance" ON "events" ("id", "fingerprint") '
    "WHERE suppressed_by LIKE 'maintenance:%'"
)
_REPORTED_COLUMNS = (
    "priority", "service", "type", "category", "ci", "major", "problem_candidate", "rating",
    "acknowledged_at", "resolved_at", "response_due", "resolution_due",
)  # fmt: skip


async def report_days(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 15: the daily roll-up of occurrences and events the reports sum
    (storage/rollup.py), built from the rows already stored; events by first seen
    time, occurrences by outcome and time, for the edges of a period."""
    await connection.execute_script(TABLE_DDL)
    for table, name, columns in _REPORT_INDEXES:
        await connection.execute_script(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({columns})'
        )
    await connection.execute_script(_MAINTENANCE_INDEX)
    await connection.execute_script(_reported_index(dialect, _REPORTED_COLUMNS))
    _, rows = await connection.execute_query("SELECT COUNT(*) AS n FROM report_days")
    if int(rows[0]["n"]) == 0:
        for statement in build_statements(Sql(dialect)):
            await connection.execute_query(statement)


def _reported_index(dialect: Dialect, columns: tuple[str, ...]) -> str:
    """Incidents of a period with every column a report counts, read from the index alone."""
    covered = ", ".join(columns)
    return 'CREATE INDEX IF NOT EXISTS "idx_incidents_reported" ON "incidents" ' + (
        f"(created_at, id) INCLUDE ({covered})"
        if dialect is Dialect.POSTGRES
        else f"(created_at, id, {covered})"
    )


async def sla_calendar(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 16: the calendar of the SLA target an incident's due times were set from,
    which the reports count its service time on: one more column of their index."""
    await _add_column(connection, dialect, "incidents", "sla_calendar", "VARCHAR(128)")
    await connection.execute_script('DROP INDEX IF EXISTS "idx_incidents_reported"')
    await connection.execute_script(_reported_index(dialect, (*_REPORTED_COLUMNS, "sla_calendar")))


async def label_indexes(connection: BaseDBAsyncClient, dialect: Dialect) -> None:
    """Version 17: on SQLite, inhibit sources are read through partial indexes on the
    labels the inhibit rules look them up by (storage/label_index.py), kept by the
    engine itself; the table of every firing event's every label pair, and the
    triggers that kept it at each write of an event, go."""
    if dialect is Dialect.SQLITE:
        await connection.execute_script(
            'DROP TRIGGER IF EXISTS "firing_labels_insert";\n'
            'DROP TRIGGER IF EXISTS "firing_labels_update";\n'
            'DROP TRIGGER IF EXISTS "firing_labels_delete";\n'
            'DROP TABLE IF EXISTS "firing_labels"'
        )


async def firing_labels_without_pending_list(
    connection: BaseDBAsyncClient, dialect: Dialect
) -> None:
    """Version 18: on PostgreSQL, the GIN index of firing labels (version 5) takes each
    new event into its tree at once. With GIN's default fast update, new entries wait
    in a pending list that every lookup reads whole, up to 4 MB of it: while a big
    payload was applied, each warning's inhibit lookup read every event inserted
    since the last flush, and processing slowed with each payload."""
    if dialect is Dialect.POSTGRES:
        await connection.execute_script(
            'ALTER INDEX "idx_events_firing_labels" SET (fastupdate = off);\n'
            "SELECT gin_clean_pending_list('\"idx_events_firing_labels\"'::regclass)"
        )
