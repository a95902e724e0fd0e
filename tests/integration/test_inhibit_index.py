"""Inhibit sources are found through the index on the labels of firing events
(migration 5), on both engines: a source mutes its targets while it fires, and
stops muting once it resolves; a database from before the index gets it with
the firing events it already holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storage import models
from storage.database import Database, DatabaseSettings, Dialect
from storage.incident_state import IncidentStateReader
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


async def test_a_firing_source_inhibits_its_site_until_it_resolves(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "inhibit.yaml").write_text(INHIBIT_RULES)
    loaded = write_config(
        database_url, integrations=[{"name": "alertmanager", "kind": "alertmanager"}]
    )
    async with running_daemon(loaded) as daemon:
        await _post(daemon, _alert("UplinkDown", "berlin", "critical"))
        await eventually(lambda: _suppression("UplinkDown"), lambda found: found == "")
        await _post(daemon, _alert("DiskFull", "berlin", "warning"))
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


async def test_a_database_from_before_the_index_gets_it_with_its_firing_events(
    tmp_path: Path,
) -> None:
    db = Database(DatabaseSettings(url=f"sqlite://{tmp_path}/old.sqlite3"))
    await db.open()
    try:
        assert db.dialect is Dialect.SQLITE
        await migrate(db)
        connection = db.connection
        await connection.execute_script(
            'DROP TRIGGER "firing_labels_insert"; DROP TRIGGER "firing_labels_update"; '
            'DROP TRIGGER "firing_labels_delete"; DROP TABLE "firing_labels"; '
            'ALTER TABLE "intake_records" DROP COLUMN "applied_events"'
        )
        await connection.execute_query("UPDATE gateway_schema SET version = 4")
        await connection.execute_query(
            "INSERT INTO events (fingerprint, source, kind, name, resource, service, ci, "
            "environment, severity, status, summary, description, labels, url, count, "
            "first_seen, last_seen, last_outcome, suppressed_by, flapping, transitions, "
            "correlation_key) VALUES ('f1', 'am', 'alertmanager', 'UplinkDown', 'r', '', '', "
            "'', 'critical', 'firing', 's', '', '{\"site\": \"berlin\"}', '', 1, "
            "'2026-01-05 08:00:00', '2026-01-05 08:00:00', 'new', '', 0, '[]', 'k')"
        )
        assert await migrate(db) == max(step.version for step in MIGRATIONS)
        _, rows = await connection.execute_query("SELECT name, value FROM firing_labels")
        assert [(row["name"], row["value"]) for row in rows] == [("site", "berlin")]
        _, columns = await connection.execute_query("PRAGMA table_info(intake_records)")
        assert "applied_events" in {column["name"] for column in columns}
    finally:
        await db.close()


async def test_inhibit_sources_are_read_through_the_label_index(database_url: str) -> None:
    """Not by reading every firing event: with thousands firing, that made a big
    payload's processing grow with the square of its size."""
    db = Database(DatabaseSettings(url=database_url))
    await db.open()
    try:
        await migrate(db)
        reader = IncidentStateReader()
        reader.sql = Sql(db.dialect)
        statement, values = reader._firing_with_labels(
            [("alertname", "UplinkDown"), ("site", "berlin")], 20
        )
        if db.dialect is Dialect.POSTGRES:
            # thousands firing, of many sites: what the planner must see to prefer the index
            await db.connection.execute_query(
                "INSERT INTO events (fingerprint, source, kind, name, resource, service, ci, "
                "environment, severity, status, summary, description, labels, url, count, "
                "first_seen, last_seen, last_outcome, suppressed_by, flapping, transitions, "
                "correlation_key) SELECT 'f' || n, 'am', 'alertmanager', 'Big', 'r', '', '', "
                "'', 'warning', 'firing', 's', '', jsonb_build_object('alertname', 'Big', "
                "'site', 'site-' || n), '', 1, now(), now(), 'new', '', false, '[]', 'k' "
                "FROM generate_series(1, 5000) AS n"
            )
            await db.connection.execute_query("ANALYZE events")
            _, rows = await db.connection.execute_query(f"EXPLAIN {statement}", values)
            plan = " ".join(str(row["QUERY PLAN"]) for row in rows)
            assert "idx_events_firing_labels" in plan, plan
        else:
            _, rows = await db.connection.execute_query(f"EXPLAIN QUERY PLAN {statement}", values)
            plan = " | ".join(str(row["detail"]) for row in rows)
            assert plan.startswith("SEARCH f USING PRIMARY KEY"), plan
            assert "SCAN" not in plan, plan
    finally:
        await db.close()
