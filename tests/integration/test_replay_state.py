"""Replay judges with the silences that were in force when each record came in."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import orjson

from tests.conftest import ConfigWriter
from tests.integration.daemon import eventually, running_daemon
from tests.integration.test_cli import CLI, REPO


async def test_replay_dry_run_sees_the_silences_that_were_in_force(
    write_config: ConfigWriter, database_url: str
) -> None:
    loaded = write_config(
        database_url,
        integrations=[{"name": "generic", "kind": "generic", "dedup_window_seconds": 0}],
        logging={"level": "info", "format": "json"},
    )
    now = datetime.now(UTC)
    async with running_daemon(loaded) as daemon:
        status, silence = await daemon.post_json(
            "/api/v1/silences",
            {
                "matchers": [{"name": "resource", "value": "db1"}],
                "ends_at": (now + timedelta(hours=1)).isoformat(),
                "author": "alice",
                "comment": "patching db1",
            },
        )
        assert status == 201, silence
        for name in ("disk", "cpu"):
            status, _ = await daemon.post_json(
                "/webhooks/generic", {"name": name, "resource": "db1", "severity": "high"}
            )
            assert status == 202
        await daemon.post_json(
            "/webhooks/generic", {"name": "cpu", "resource": "web1", "severity": "high"}
        )
        await eventually(daemon.incidents, lambda items: len(items) == 1)
        # the silence ends early: the same alert now opens an incident
        async with daemon.http.delete(f"/api/v1/silences/{silence['id']}") as response:
            assert response.status == 200
        await daemon.post_json(
            "/webhooks/generic", {"name": "mem", "resource": "db1", "severity": "high"}
        )
        await eventually(daemon.incidents, lambda items: len(items) == 2)

    for _ in range(2):  # the second run finds nothing new to set up either
        result = subprocess.run(
            [*CLI, "replay", "--dry-run", "--json", "--config", str(loaded.path)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )
        assert result.returncode == 0, result.stderr
        report = orjson.loads(result.stdout)
        assert report["records"] == 4
        assert report["changes"] == [], report["changes"]
        assert report["incidents_before"] == report["incidents_after"] == 2
        # the scratch database's schema is no news at info
        assert "schema_created" not in result.stderr, result.stderr
