"""How many events each silence holds, and when it last matched one: a row per silence
kept by triggers on events, so the console reads 50 rows instead of counting a
million events.

An event is held by the silence its last evaluation was suppressed by
(``events.suppressed_by = 'silence:12'``). The triggers move it between rows in the
same transaction that writes the event, whoever writes it (the pipeline, replay,
retention deleting it): +1 when an event comes under a silence, -1 when it leaves
one or is deleted. Each change is one atomic ``held = held + n`` on the row, so
replicas on one PostgreSQL never lose an increment (they wait for each other's
row lock instead). ``last_held`` is the newest ``last_seen`` of an event when a
silence suppressed it; it only moves forward, so a deleted or released event
leaves it as it was.
"""

from __future__ import annotations

from typing import Any

from storage.database import Dialect

_SILENCE = "'silence:%'"

_TABLE = (
    'CREATE TABLE IF NOT EXISTS "silence_holds" ('
    '"suppressed_by" VARCHAR(128) NOT NULL PRIMARY KEY, '
    '"held" BIGINT NOT NULL DEFAULT 0, '
    '"last_held" {timestamp} NULL);\n'
)

# what was there before the triggers: every event under a silence, counted once
_BACKFILL = (
    "DELETE FROM silence_holds;\n"
    "INSERT INTO silence_holds (suppressed_by, held, last_held) "
    "SELECT suppressed_by, COUNT(*), MAX(last_seen) FROM events "
    f"WHERE suppressed_by LIKE {_SILENCE} GROUP BY suppressed_by;\n"
)


def _sqlite_add(step: str) -> str:
    return (
        "INSERT INTO silence_holds (suppressed_by, held, last_held) "
        f"SELECT NEW.suppressed_by, {step}, NEW.last_seen WHERE NEW.suppressed_by LIKE {_SILENCE} "
        "ON CONFLICT (suppressed_by) DO UPDATE SET held = held + excluded.held, "
        "last_held = max(coalesce(last_held, excluded.last_held), excluded.last_held);"
    )


_RELEASE_OLD = "UPDATE silence_holds SET held = held - 1 WHERE suppressed_by = OLD.suppressed_by;"

_SQLITE = (
    _TABLE.format(timestamp="TIMESTAMP")
    + 'CREATE TRIGGER IF NOT EXISTS "silence_holds_insert" AFTER INSERT ON "events" '
    f"WHEN NEW.suppressed_by LIKE {_SILENCE} BEGIN {_sqlite_add('1')} END;\n"
    'CREATE TRIGGER IF NOT EXISTS "silence_holds_update" '
    'AFTER UPDATE OF suppressed_by, last_seen ON "events" '
    f"WHEN OLD.suppressed_by LIKE {_SILENCE} OR NEW.suppressed_by LIKE {_SILENCE} BEGIN "
    f"{_RELEASE_OLD[:-1]} AND OLD.suppressed_by IS NOT NEW.suppressed_by; "
    f"{_sqlite_add('CASE WHEN OLD.suppressed_by IS NEW.suppressed_by THEN 0 ELSE 1 END')} "
    "END;\n"
    'CREATE TRIGGER IF NOT EXISTS "silence_holds_delete" AFTER DELETE ON "events" '
    f"WHEN OLD.suppressed_by LIKE {_SILENCE} BEGIN {_RELEASE_OLD} END;\n" + _BACKFILL
)

# One function for the three triggers. An event that moves from one silence to
# another touches both rows in key order, so two transactions moving events both
# ways wait for each other rather than deadlock.
_POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION silence_holds_keep() RETURNS trigger AS $$
DECLARE
    gone TEXT := NULL;
    came TEXT := NULL;
    step BIGINT := 1;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.suppressed_by LIKE {_SILENCE} THEN gone := OLD.suppressed_by; END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.suppressed_by LIKE {_SILENCE} THEN came := NEW.suppressed_by; END IF;
    END IF;
    IF gone = came THEN  -- suppressed by the same silence again: only when
        gone := NULL;
        step := 0;
    END IF;
    IF gone IS NOT NULL AND (came IS NULL OR gone < came) THEN
        UPDATE silence_holds SET held = held - 1 WHERE suppressed_by = gone;
        gone := NULL;
    END IF;
    IF came IS NOT NULL THEN  -- the row is there but for a silence's first event
        UPDATE silence_holds SET held = held + step, last_held = GREATEST(last_held, NEW.last_seen)
        WHERE suppressed_by = came;
        IF NOT FOUND THEN
            INSERT INTO silence_holds AS h (suppressed_by, held, last_held)
            VALUES (came, step, NEW.last_seen)
            ON CONFLICT (suppressed_by) DO UPDATE
            SET held = h.held + EXCLUDED.held,
                last_held = GREATEST(h.last_held, EXCLUDED.last_held);
        END IF;
    END IF;
    IF gone IS NOT NULL THEN
        UPDATE silence_holds SET held = held - 1 WHERE suppressed_by = gone;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

_POSTGRES = (
    _TABLE.format(timestamp="TIMESTAMPTZ")
    + _POSTGRES_FUNCTION
    + 'DROP TRIGGER IF EXISTS "silence_holds_insert" ON "events";\n'
    'CREATE TRIGGER "silence_holds_insert" AFTER INSERT ON "events" FOR EACH ROW '
    f"WHEN (NEW.suppressed_by LIKE {_SILENCE}) EXECUTE FUNCTION silence_holds_keep();\n"
    'DROP TRIGGER IF EXISTS "silence_holds_update" ON "events";\n'
    'CREATE TRIGGER "silence_holds_update" AFTER UPDATE OF suppressed_by, last_seen '
    'ON "events" FOR EACH ROW '
    f"WHEN (OLD.suppressed_by LIKE {_SILENCE} OR NEW.suppressed_by LIKE {_SILENCE}) "
    "EXECUTE FUNCTION silence_holds_keep();\n"
    'DROP TRIGGER IF EXISTS "silence_holds_delete" ON "events";\n'
    'CREATE TRIGGER "silence_holds_delete" AFTER DELETE ON "events" FOR EACH ROW '
    f"WHEN (OLD.suppressed_by LIKE {_SILENCE}) EXECUTE FUNCTION silence_holds_keep();\n"
    # the triggers hold the events table's lock from here on: no event written
    # meanwhile is missed by the count below nor counted twice
     + _BACKFILL
)


def silence_holds_ddl(dialect: Dialect) -> str:
    """The table, its triggers and the count of what events hold already."""
    return _POSTGRES if dialect is Dialect.POSTGRES else _SQLITE


def held_statement(count: int) -> str:
    """The rows of ``count`` silences, named as ``events.suppressed_by`` names them."""
    marks = ", ".join("?" for _ in range(count))
    return (
        f"SELECT suppressed_by, held, last_held FROM silence_holds WHERE suppressed_by IN ({marks})"
    )


def silence_name(silence_id: int) -> str:
    return f"silence:{silence_id}"


def silence_id_of(row: dict[str, Any]) -> int:
    return int(str(row["suppressed_by"]).split(":", 1)[1])
