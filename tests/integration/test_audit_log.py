"""The audit log through the real HTTP listener, on both engines: every operator action
(acknowledge, resolve, silence create and expire, dead-letter retry, reload with the
hashes of what is in force) is a row of one hash chain; ``intake-gateway audit verify``
passes, the table refuses UPDATE and DELETE, and a row altered or removed by SQL once
the guard is dropped is named by ``audit verify``."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from core.errors import GatewayError
from gateway.config.model import LoadedConfig
from storage import audit
from storage.database import Database, DatabaseSettings, Dialect
from storage.migrations import migrate
from tests.conftest import ConfigWriter
from tests.integration.daemon import eventually, running_daemon

REPO = Path(__file__).resolve().parents[2]
ALERT = {"name": "disk full", "resource": "db1", "severity": "critical", "summary": "/ at 99%"}
ROUTES = "settings:\n  default_routes: [tickets]\n"


@pytest.fixture
async def refusing_sink() -> AsyncIterator[str]:
    """A ticket system that refuses every delivery with 400: a dead letter at once."""

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": "no"}, status=400)

    app = web.Application()
    app.add_routes([web.post("/tickets", refuse)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/tickets"
    finally:
        await runner.cleanup()


def _verify(loaded: LoadedConfig) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "audit", "verify", "--config", str(loaded.path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


async def _rows(loaded: LoadedConfig) -> list[dict[str, Any]]:
    db = Database(DatabaseSettings(url=loaded.config.storage.url, exclusive=False))
    await db.open()
    try:
        return await audit.entries(db)
    finally:
        await db.close()


async def _sql(loaded: LoadedConfig, *statements: str) -> None:
    db = Database(DatabaseSettings(url=loaded.config.storage.url, exclusive=False))
    await db.open()
    try:
        for statement in statements:
            async with db.transaction() as connection:
                await connection.execute_script(statement)
    finally:
        await db.close()


async def _operator_actions(loaded: LoadedConfig, tmp_path: Path) -> None:
    async with running_daemon(loaded) as daemon:
        assert (await daemon.post_json("/webhooks/generic", ALERT))[0] == 202
        await eventually(daemon.incidents, lambda items: len(items) == 1)
        path = "/api/v1/incidents/INC-000001"
        status, _ = await daemon.post_json(f"{path}/acknowledge", {"author": "alice"})
        assert status == 200
        # asked twice: no change, no second row
        assert (await daemon.post_json(f"{path}/acknowledge", {"author": "alice"}))[0] == 200
        body = {"author": "bob", "comment": "disk replaced"}
        assert (await daemon.post_json(f"{path}/resolve", body))[0] == 200
        silence = {
            "matchers": [{"name": "resource", "op": "=", "value": "db1"}],
            "ends_at": "2099-01-01T00:00:00Z",
            "author": "carol",
            "comment": "patching",
        }
        status, created = await daemon.post_json("/api/v1/silences", silence)
        assert status == 201
        async with daemon.http.delete(f"/api/v1/silences/{created['id']}") as response:
            assert response.status == 200
        dead = await eventually(
            lambda: daemon.get_json("/api/v1/deadletters"), lambda found: bool(found[1]["items"])
        )
        letter = dead[1]["items"][0]["id"]
        assert (await daemon.post_json(f"/api/v1/deadletters/{letter}/retry", {}))[0] == 202
        (tmp_path / "rules" / "10-more.yaml").write_text("rules: []\n")
        assert (await daemon.post_json("/api/v1/reload", {}))[0] == 200
        (tmp_path / "rules" / "20-bad.yaml").write_text("rules: [{nonsense: 1}]\n")
        assert (await daemon.post_json("/api/v1/reload", {}))[0] == 422


async def test_operator_actions_are_chained_and_verified(
    write_config: ConfigWriter, database_url: str, tmp_path: Path, refusing_sink: str
) -> None:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "00-routes.yaml").write_text(ROUTES)
    loaded = write_config(
        database_url, sinks=[{"name": "tickets", "kind": "webhook", "url": refusing_sink}]
    )
    await _operator_actions(loaded, tmp_path)

    rows = await _rows(loaded)
    assert [row["action"] for row in rows] == [
        "start",
        "incident.acknowledged",
        "incident.resolved",
        "silence.create",
        "silence.expire",
        "dead_letter.retry",
        "config.reload",
        "config.reload",
    ]
    by_action = {row["action"]: row for row in rows}
    acked = by_action["incident.acknowledged"]
    assert (acked["actor"], acked["via"], acked["subject"]) == (
        "alice",
        "loopback@127.0.0.1",
        "INC-000001",
    )
    assert acked["details"] == {"from": "new", "to": "acknowledged", "comment": False}
    assert by_action["incident.resolved"]["actor"] == "bob"
    assert by_action["silence.create"]["details"]["comment"] == "patching"
    assert by_action["dead_letter.retry"]["actor"] == "loopback@127.0.0.1"
    applied, refused = rows[-2]["details"], rows[-1]["details"]
    config_sha = hashlib.sha256(loaded.path.read_bytes()).hexdigest()
    assert applied["applied"] is True and applied["config_sha256"] == config_sha
    assert rows[0]["details"]["rules_sha256"] != applied["rules_sha256"]  # a rule file came
    # refused: what stays in force is what the applied reload brought
    assert refused["applied"] is False and refused["problems"] >= 1
    assert refused["rules_sha256"] == applied["rules_sha256"]

    result = _verify(loaded)
    assert result.returncode == 0, result.stderr
    assert f"intact: {len(rows)} rows, head {rows[-1]['hash']}" in result.stdout

    # the table refuses changes through SQL ...
    with pytest.raises(GatewayError, match="append-only"):
        await _sql(loaded, "UPDATE audit_log SET actor = 'mallory' WHERE id = 2")
    with pytest.raises(GatewayError, match="append-only"):
        await _sql(loaded, "DELETE FROM audit_log WHERE id = 3")
    # ... and once someone with the rights drops the guard, the chain tells
    postgres = loaded.config.storage.url.startswith("postgres")
    unguard = (
        "DROP TRIGGER audit_log_append_only ON audit_log"
        if postgres
        else "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete"
    )
    altered = rows[1]["id"]
    await _sql(loaded, unguard, f"UPDATE audit_log SET actor = 'mallory' WHERE id = {altered}")
    result = _verify(loaded)
    assert result.returncode == 1
    assert f"BROKEN at row {altered}: its content does not match its hash" in result.stderr
    assert "(1 rows before it are intact)" in result.stderr


async def test_a_removed_row_breaks_the_chain_at_the_next(
    write_config: ConfigWriter, database_url: str
) -> None:
    loaded = write_config(database_url)
    async with running_daemon(loaded) as daemon:
        for number in range(3):
            status, _ = await daemon.post_json(
                "/api/v1/silences",
                {
                    "matchers": [{"name": "resource", "op": "=", "value": f"h{number}"}],
                    "ends_at": "2099-01-01T00:00:00Z",
                    "author": "carol",
                    "comment": "patching",
                },
            )
            assert status == 201
    rows = await _rows(loaded)
    assert len(rows) == 4 and _verify(loaded).returncode == 0
    postgres = loaded.config.storage.url.startswith("postgres")
    unguard = (
        "DROP TRIGGER audit_log_append_only ON audit_log"
        if postgres
        else "DROP TRIGGER audit_log_no_delete"
    )
    await _sql(loaded, unguard, f"DELETE FROM audit_log WHERE id = {rows[2]['id']}")
    result = _verify(loaded)
    assert result.returncode == 1
    assert f"BROKEN at row {rows[3]['id']}: its prev_hash is not the hash" in result.stderr


async def test_concurrent_writers_keep_one_chain(database_url: str) -> None:
    """Many transactions recording at once (on PostgreSQL, on as many server sessions
    as the pool holds, as replicas would): one chain, no fork, every row kept."""
    db = Database(DatabaseSettings(url=database_url, pool_size=8))
    await db.open()
    try:
        await migrate(db)

        async def act(number: int) -> None:
            async with db.transaction() as connection:
                await audit.record(
                    connection,
                    actor=f"op{number}",
                    via="test",
                    action="probe",
                    subject=str(number),
                    details={"n": number, "text": "界 ünïcode"},
                )
                await asyncio.sleep(0)  # others run while the row is uncommitted

        await asyncio.gather(*(act(number) for number in range(60)))
        result = await audit.verify(db)
        assert result.intact and result.rows == 60
        subjects = {row["subject"] for row in await audit.entries(db)}
        assert subjects == {str(number) for number in range(60)}
        assert db.dialect in (Dialect.SQLITE, Dialect.POSTGRES)
    finally:
        await db.close()
