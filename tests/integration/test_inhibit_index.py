"""Inhibit sources are found through an index on the labels of firing events
(PostgreSQL: a GIN index, migration 5; SQLite: an index per label the inhibit
rules look up by, storage/label_index.py), on both engines: a source mutes its
targets while it fires, and stops muting once it resolves; a reload moves the
indexes to the labels of the rules in force; a database from before the label
indexes finds the events it already holds."""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from gateway.config.model import LoadedConfig
from storage import models
from storage.atomic import QueryRunner
from storage.database import Database, DatabaseSettings, Dialect
from storage.incident_state import IncidentStateReader
from storage.label_index import PREFIX, LabelIndexes, index_name
from storage.migrations import MIGRATIONS, migrate
from storage.sql import Sql
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon

INHIBIT_RULES = """\
inhibit:
  - name: uplink-down
    source: {alertname: UplinkDown}
    target: {labels.severity: {in: [warning, info]}}
    equal: [site]
"""


def _alert(name: str, site: str, severity: str, status: str = "firing") -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "site": site, "severity": severity, "instance": name},
        "annotations": {"summary": name},
        "startsAt": "2026-01-05T08:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-01-05T09:00:00Z",
    }


async def _post(daemon: RunningDaemon, *alerts: dict[str, Any]) -> None:
    body = {"version": "4", "status": "firing", "receiver": "r", "alerts": list(alerts)}
    status, answer = await daemon.post_json("/webhooks/alertmanager", body)
    assert status == 202, answer


async def _suppression(name: str) -> str | None:
    event = await models.Event.filter(name=name).first()
    return None if event is None else event.suppressed_by


INSERT_EVENTS = (
    "INSERT INTO events (fingerprint, source, kind, name, resource, service, ci, "
    "environment, severity, status, summary, description, labels, url, count, "
    "first_seen, last_seen, last_outcome, suppressed_by, flapping, transitions, "
    "correlation_key) "
)
# PostgreSQL: how many entries of the GIN index of firing labels wait in its pending list
PENDING_LIST = (
    "SELECT pending_pages, pending_tuples FROM pgstatginindex('idx_events_firing_labels'::regclass)"
)


async def _insert_firing_series(
    connection: QueryRunner, name: str, severity: str, count: int
) -> None:
    """PostgreSQL: ``count`` firing events f1, f2, ... named ``name``, of sites site-1, ..."""
    await connection.execute_query(
        f"{INSERT_EVENTS}SELECT 'f' || n, 'am', 'alertmanager', '{name}', 'r', '', '', '', "
        f"'{severity}', 'firing', 's', '', jsonb_build_object('alertname', '{name}', "
        "'site', 'site-' || n), '', 1, now(), now(), 'new', '', false, '[]', 'k' "
        f"FROM generate_series(1, {count}) AS n"
    )


def _inhibit_config(write_config: ConfigWriter, database_url: str, tmp_path: Path) -> LoadedConfig:
    """A config with the inhibit rule and an Alertmanager integration."""
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "inhibit.yaml").write_text(INHIBIT_RULES)
    return write_config(
        database_url, integrations=[{"name": "alertmanager", "kind": "alertmanager"}]
    )


@asynccontextmanager
async def _inhibiting_daemon(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> AsyncIterator[RunningDaemon]:
    """A daemon with the inhibit rule, once an uplink of berlin fires and a warning
    of berlin has been posted after it."""
    loaded = _inhibit_config(write_config, database_url, tmp_path)
    async with running_daemon(loaded) as daemon:
        await _post(daemon, _alert("UplinkDown", "berlin", "critical"))
        await eventually(lambda: _suppression("UplinkDown"), lambda found: found == "")
        await _post(daemon, _alert("DiskFull", "berlin", "warning"))
        yield daemon


async def test_a_firing_source_inhibits_its_site_until_it_resolves(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    async with _inhibiting_daemon(write_config, database_url, tmp_path) as daemon:
        await _post(daemon, _alert("CpuHigh", "paris", "warning"))
        await eventually(
            lambda: _suppression("DiskFull"), lambda found: found == "inhibit:uplink-down"
        )
        await eventually(lambda: _suppression("CpuHigh"), lambda found: found == "")
        await _post(daemon, _alert("UplinkDown", "berlin", "critical", "resolved"))
        await eventually(
            lambda: models.Event.filter(name="UplinkDown", status="resolved").count(),
            lambda found: found == 1,
        )
        await _post(daemon, _alert("MemoryLow", "berlin", "warning"))
        await eventually(lambda: _suppression("MemoryLow"), lambda found: found == "")


RULES_BY_TEAM = INHIBIT_RULES.replace("{alertname: UplinkDown}", "{team: network}")


async def test_a_reload_moves_the_label_indexes_to_the_rules_in_force(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    """The labels the inhibit rules look sources up by are indexed (SQLite) and a
    reload that changes them changes the indexes; inhibition holds on both engines."""
    async with _inhibiting_daemon(write_config, database_url, tmp_path) as daemon:
        await eventually(
            lambda: _suppression("DiskFull"), lambda found: found == "inhibit:uplink-down"
        )
        assert await _label_indexes(daemon) == _expected({"alertname"}, daemon)
        (tmp_path / "rules" / "inhibit.yaml").write_text(RULES_BY_TEAM)
        assert (await daemon.post_json("/api/v1/reload", {}))[0] == 200
        source = _alert("SwitchDown", "paris", "critical")
        source["labels"]["team"] = "network"
        await _post(daemon, source)
        await eventually(lambda: _suppression("SwitchDown"), lambda found: found == "")
        await _post(daemon, _alert("CpuHigh", "paris", "warning"))
        await eventually(
            lambda: _suppression("CpuHigh"), lambda found: found == "inhibit:uplink-down"
        )
        assert await _label_indexes(daemon) == _expected({"team"}, daemon)


def _expected(names: set[str], daemon: RunningDaemon) -> set[str]:
    if daemon.services.db.dialect is Dialect.POSTGRES:
        return set()  # the GIN index of migration 5 answers every label
    return {index_name(name) for name in names}


async def _label_indexes(daemon: RunningDaemon) -> set[str]:
    if daemon.services.db.dialect is Dialect.POSTGRES:
        statement = "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'events'"
    else:
        statement = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'"
    _, rows = await daemon.services.db.connection.execute_query(statement)
    return {str(row["name"]) for row in rows if str(row["name"]).startswith(PREFIX)}


async def test_a_database_from_before_the_label_indexes_finds_its_firing_events(
    tmp_path: Path,
) -> None:
    """Version 16 kept a table of every firing label pair by triggers: the upgrade
    drops both, and the events already firing are found through the label index."""
    db = Database(DatabaseSettings(url=f"sqlite://{tmp_path}/old.sqlite3"))
    await db.open()
    try:
        assert db.dialect is Dialect.SQLITE
        await migrate(db, [step for step in MIGRATIONS if step.version <= 16])
        connection = db.connection
        await connection.execute_query(
            f"{INSERT_EVENTS}VALUES ('f1', 'am', 'alertmanager', 'UplinkDown', 'r', '', '', "
            "'', 'critical', 'firing', 's', '', "
            '\'{"alertname": "UplinkDown", "site": "berlin"}\', \'\', 1, '
            "'2026-01-05 08:00:00', '2026-01-05 08:00:00', 'new', '', 0, '[]', 'k')"
        )
        _, rows = await connection.execute_query("SELECT COUNT(*) AS n FROM firing_labels")
        assert rows[0]["n"] == 2  # what version 16 kept
        assert await migrate(db) == max(step.version for step in MIGRATIONS)
        _, rows = await connection.execute_query(
            "SELECT name FROM sqlite_master WHERE name LIKE 'firing_labels%'"
        )
        assert [row["name"] for row in rows] == []
        await LabelIndexes(db).keep(frozenset({"alertname"}))
        reader = IncidentStateReader()
        reader.sql = Sql(db.dialect)
        found = await connection.execute_query_dict(
            *reader._firing_with_labels([("alertname", "UplinkDown"), ("site", "berlin")], 20)
        )
        assert [row["fingerprint"] for row in found] == ["f1"]
    finally:
        await db.close()


async def test_inhibit_sources_are_read_through_the_label_index(database_url: str) -> None:
    """Not by reading every firing event: with thousands firing, that made a big
    payload's processing grow with the square of its size."""
    db = Database(DatabaseSettings(url=database_url))
    await db.open()
    try:
        await migrate(db)
        await LabelIndexes(db).keep(frozenset({"alertname"}))
        reader = IncidentStateReader()
        reader.sql = Sql(db.dialect)
        statement, values = reader._firing_with_labels(
            [("alertname", "UplinkDown"), ("site", "berlin")], 20
        )
        if db.dialect is Dialect.POSTGRES:
            # thousands firing, of many sites: what the planner must see to prefer the index
            await _insert_firing_series(db.connection, "Big", "warning", 5000)
            await db.connection.execute_query("ANALYZE events")
            _, rows = await db.connection.execute_query(f"EXPLAIN {statement}", values)
            plan = " ".join(str(row["QUERY PLAN"]) for row in rows)
            assert "idx_events_firing_labels" in plan, plan
        else:
            _, rows = await db.connection.execute_query(f"EXPLAIN QUERY PLAN {statement}", values)
            plan = " | ".join(str(row["detail"]) for row in rows)
            assert plan == f"SEARCH e USING INDEX {index_name('alertname')} (<expr>=?)", plan
    finally:
        await db.close()


async def test_label_indexes_hold_any_label_name(tmp_path: Path) -> None:
    """A label name is written into the index's SQL: quotes, backslashes and control
    characters in it neither break the statement nor match another label; a name
    no JSON path reaches (a double quote in it) is found unindexed."""
    db = Database(DatabaseSettings(url=f"sqlite://{tmp_path}/names.sqlite3"))
    await db.open()
    try:
        await migrate(db)
        odd, quoted = "it's a \\ and a \t", 'say "x"'
        await LabelIndexes(db).keep(frozenset({odd, quoted, "plain"}))
        labels = {odd: "yes", quoted: "too", "plain": "no"}
        await db.connection.execute_query(
            f"{INSERT_EVENTS}VALUES ('f1', 'am', 'alertmanager', 'X', 'r', '', '', '', "
            "'critical', 'firing', 's', '', ?, '', 1, '2026-01-05 08:00:00', "
            "'2026-01-05 08:00:00', 'new', '', 0, '[]', 'k')",
            [orjson.dumps(labels).decode()],
        )
        reader = IncidentStateReader()
        reader.sql = Sql(db.dialect)
        for pairs, wanted in (
            ([(odd, "yes")], ["f1"]),
            ([(odd, "no")], []),
            ([("plain", "no")], ["f1"]),
            ([(quoted, "too"), ("plain", "no")], ["f1"]),
            ([(quoted, "yes")], []),
        ):
            found = await db.connection.execute_query_dict(*reader._firing_with_labels(pairs, 5))
            assert [row["fingerprint"] for row in found] == wanted, pairs
    finally:
        await db.close()


async def test_postgres_inhibit_lookups_read_no_pending_list(
    write_config: ConfigWriter, postgres_url: str, tmp_path: Path
) -> None:
    """GIN's fast update kept new events in a pending list that each inhibit lookup
    read whole: a payload's thousands of warnings each read every event the payload
    had inserted so far, and processing slowed with each payload. After a payload
    of 2,000 warnings through the listener, every event is in the index's tree and
    its pending list is empty (pgstattuple reads the index's own pages)."""
    loaded = _inhibit_config(write_config, postgres_url, tmp_path)
    warnings = [_alert(f"Disk{n}", f"site-{n % 10}", "warning") for n in range(2000)]
    async with running_daemon(loaded) as daemon:
        await _post(daemon, *warnings)
        await eventually(lambda: models.Event.filter(status="firing").count(), lambda n: n == 2000)
        connection = await asyncpg.connect(postgres_url)
        try:
            await connection.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
            pending = await connection.fetchrow(PENDING_LIST)
        finally:
            await connection.close()
    assert pending is not None
    assert (pending["pending_pages"], pending["pending_tuples"]) == (0, 0)


async def test_postgres_upgrade_moves_the_pending_list_into_the_index(postgres_url: str) -> None:
    """A database of version 17 holds events in the pending list: the upgrade turns
    fast update off and moves them into the tree, where lookups find them."""
    db = Database(DatabaseSettings(url=postgres_url))
    await db.open()
    try:
        await migrate(db, [step for step in MIGRATIONS if step.version <= 17])
        await _insert_firing_series(db.connection, "UplinkDown", "critical", 100)
        await db.connection.execute_script("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        _, rows = await db.connection.execute_query(PENDING_LIST)
        assert rows[0]["pending_tuples"] == 100  # what version 17 left pending
        assert await migrate(db) == max(step.version for step in MIGRATIONS)
        _, rows = await db.connection.execute_query(PENDING_LIST)
        assert rows[0]["pending_tuples"] == 0
        _, rows = await db.connection.execute_query(
            "SELECT reloptions FROM pg_class WHERE relname = 'idx_events_firing_labels'"
        )
        assert rows[0]["reloptions"] == ["fastupdate=off"]
        reader = IncidentStateReader()
        reader.sql = Sql(db.dialect)
        found = await db.connection.execute_query_dict(
            *reader._firing_with_labels([("alertname", "UplinkDown"), ("site", "site-7")], 20)
        )
        assert [row["fingerprint"] for row in found] == ["f7"]
    finally:
        await db.close()


async def _index_scans(postgres_url: str) -> dict[str, int]:
    connection = await asyncpg.connect(postgres_url)
    try:
        rows = await connection.fetch(
            "SELECT indexrelname, idx_scan FROM pg_stat_user_indexes WHERE relname = 'events' "
            "UNION ALL SELECT 'seq', seq_scan FROM pg_stat_user_tables WHERE relname = 'events'"
        )
    finally:
        await connection.close()
    return {str(row["indexrelname"]): int(row["idx_scan"]) for row in rows}


async def test_postgres_lookups_are_planned_for_the_table_a_payload_filled(
    write_config: ConfigWriter, postgres_url: str, tmp_path: Path
) -> None:
    """A pooled connection kept the plan its first lookups got on a near-empty
    table: the index of every event's status, which then read every firing event
    for each warning. Once a payload has filled the table, the pipeline analyzes
    it, and the next payload's lookups (5,000 warnings, each looking for an uplink
    of its site) go through the GIN index of firing labels."""
    loaded = _inhibit_config(write_config, postgres_url, tmp_path)
    async with running_daemon(loaded) as daemon:
        for payload in range(2):
            for part in range(5):  # 1,000 an Alertmanager notification (1 MiB a body)
                numbers = range(part * 1000, (part + 1) * 1000)
                await _post(
                    daemon,
                    *(_alert(f"Disk{payload}-{n}", f"site-{n % 10}", "warning") for n in numbers),
                )
            await eventually(
                lambda: models.Event.filter(status="firing").count(),
                partial(operator.eq, 5000 * (payload + 1)),
                within=60,
            )
        # the server's index counters reach the statistics views within seconds
        scans = await eventually(
            lambda: _index_scans(postgres_url),
            lambda found: found.get("idx_events_firing_labels", 0) >= 5000,
            within=20,
        )
    assert scans["idx_events_firing_labels"] >= 5000, scans
