"""test-rules and replay from the command line and through their functions."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gateway.config.model import load_config
from gateway.processing.replay import render_json, render_table, replay
from gateway.runtime import compile_runtime
from storage import models
from storage.database import Database, DatabaseSettings
from tests.conftest import ConfigWriter
from tests.integration.daemon import eventually, running_daemon
from tests.integration.test_cli import CLI, REPO

RAISE_DB = """
rules:
  - name: databases-are-urgent
    description: Anything on a database host is P1 and pages the DBAs.
    match: {resource: {regex: "db.*"}}
    set: {impact: 1, urgency: 1}
    routes: [dba-chat]
"""


def test_shipped_rule_tests_pass() -> None:
    result = subprocess.run(
        [*CLI, "test-rules", "config/rules/tests/helpdesk.yaml"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1].endswith("0 failed")


def test_failing_rule_test_exits_one_with_file_and_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "10-db.yaml").write_text(RAISE_DB)
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "rules_dir: rules\nnow: 2026-01-05T10:00:00Z\ntests:\n"
        "  - name: db alert is P1\n"
        "    event: {source: s, kind: generic, name: n, resource: db1, severity: low,"
        " status: firing, summary: x}\n"
        "    expect: {incident: {priority: P1}, routes: [dba-chat]}\n"
        "  - name: deliberately wrong expectation\n"
        "    event: {source: s, kind: generic, name: n, resource: web1, severity: low,"
        " status: firing, summary: x}\n"
        "    expect: {incident: {priority: P1}}\n"
    )
    result = subprocess.run(
        [*CLI, "test-rules", str(cases)], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f'{cases}:7: FAILED "deliberately wrong expectation"' in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "1 passed, 1 failed"


def test_test_rules_reports_a_missing_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "test-rules", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 2 and "file not found" in result.stderr


async def test_replay_dry_run_shows_what_new_rules_would_change(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    # the rules below route to this sink; disabled, its rows just wait
    sinks = [
        {"name": "dba-chat", "kind": "webhook", "url": "http://127.0.0.1:9/", "enabled": False}
    ]
    loaded = write_config(sinks=sinks)
    async with running_daemon(loaded) as daemon:
        for resource in ("db1", "web1"):
            await daemon.post_json(
                "/webhooks/generic", {"name": "cpu", "resource": resource, "severity": "low"}
            )
        async with daemon.http.post(
            "/webhooks/generic", data=b'{"x": 1}', headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status == 400
        await eventually(daemon.incidents, lambda items: len(items) == 2)
    unchanged = await replay(compile_runtime(loaded), since=None, dry_run=True)
    assert unchanged.records == 2 and unchanged.changes == []
    assert "no event would change" in render_table(unchanged)

    (tmp_path / "rules" / "10-db.yaml").write_text(RAISE_DB)
    report = await replay(compile_runtime(load_config(loaded.path)), since=None, dry_run=True)
    changed = {(change.field, change.before, change.after) for change in report.changes}
    assert changed == {("priority", "P4", "P1"), ("routes", "", "dba-chat")}
    assert all(change.source == "generic" for change in report.changes)
    assert '"field": "priority"' in render_json(report)

    # the live database was only read
    database = Database(DatabaseSettings(url=loaded.config.storage.url))
    await database.open()
    try:
        incidents = await models.Incident.all().order_by("id")
        assert [incident.priority for incident in incidents] == ["P4", "P4"]
    finally:
        await database.close()


async def test_replay_without_dry_run_requeues_failed_records(write_config: ConfigWriter) -> None:
    loaded = write_config()
    database = Database(DatabaseSettings(url=loaded.config.storage.url))
    await database.open()
    try:
        from storage.migrations import migrate

        await migrate(database)
        await models.IntakeRecordRow.create(
            channel="http",
            source="generic",
            kind="generic",
            received_at=_now(),
            dedup_key="x",
            meta={},
            body=b'{"name": "n", "resource": "r"}',
            size=30,
            state="failed",
            error="storage fault",
        )
    finally:
        await database.close()
    report = await replay(compile_runtime(loaded), since=None, dry_run=False)
    assert report.requeued == 1
    async with running_daemon(loaded) as daemon:
        await eventually(daemon.incidents, lambda items: len(items) == 1)


def _now() -> object:
    from datetime import UTC, datetime

    return datetime.now(UTC)


FIXTURES = REPO / "tests" / "fixtures"
KINDS = ("alertmanager", "grafana", "zabbix", "nagios")


async def test_replay_over_every_fixture_matches_what_was_stored(
    write_config: ConfigWriter,
) -> None:
    """A database filled by the alert and mail fixtures replays with no change."""
    integrations = [{"name": kind, "kind": kind} for kind in KINDS]
    integrations.append({"name": "mail", "kind": "email"})
    loaded = write_config(integrations=integrations)
    posted = 0
    async with running_daemon(loaded) as daemon:
        for kind in KINDS:
            for path in sorted((FIXTURES / "alerts" / kind).iterdir()):
                if path.name.endswith((".expected.json", ".options.json")):
                    continue
                if path.with_name(path.stem + ".options.json").exists():
                    continue  # needs integration options of its own; the golden tests cover it
                media = (
                    "application/x-www-form-urlencoded"
                    if path.suffix == ".form"
                    else ("application/json")
                )
                async with daemon.http.post(
                    f"/webhooks/{kind}", data=path.read_bytes(), headers={"Content-Type": media}
                ) as response:
                    assert response.status == 202, (path, await response.text())
                    posted += 1
        for path in sorted((FIXTURES / "mail").glob("*.eml")):
            async with daemon.http.post(
                "/webhooks/mail", data=path.read_bytes(), headers={"Content-Type": "message/rfc822"}
            ) as response:
                assert response.status == 202, (path, await response.text())
                posted += 1

        async def settled() -> int:
            return await models.IntakeRecordRow.filter(state="pending").count()

        await eventually(settled, lambda pending: pending == 0, within=30)
        stored = await models.IntakeRecordRow.filter(state="processed").count()
    report = await replay(compile_runtime(loaded), since=None, dry_run=True)
    assert report.records == stored and stored > 50
    assert report.unparseable == 0
    assert report.changes == [], render_table(report)
    assert report.incidents_before == report.incidents_after > 0
