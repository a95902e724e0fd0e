"""``intake-gateway evidence export`` on both engines: every incident of the period in
CSV and JSON, a reproducible random sample of 25 with timelines, events and the raw
intake records (their sha256 matches the bytes sent over HTTP), the SLA report, the
config and rules with their hashes, and the audit chain verified; once an audit row is
altered by SQL the export says where the chain breaks and exits 1."""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from gateway.config.model import LoadedConfig
from storage import models
from tests.conftest import ConfigWriter
from tests.integration.daemon import eventually, running_daemon
from tests.integration.test_audit_log import _sql

REPO = Path(__file__).resolve().parents[2]
ALERT = {"name": "disk full", "resource": "db1", "severity": "critical", "summary": "/ at 99%"}


def _export(loaded: LoadedConfig, out: Path) -> subprocess.CompletedProcess[str]:
    today = datetime.now(UTC).date()
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "evidence", "export", "--config",
         str(loaded.path), "--from", str(today - timedelta(days=60)),
         "--to", str(today + timedelta(days=1)), "--seed", "7", "--out", str(out)],
        capture_output=True, text=True, timeout=180, cwd=REPO,
    )  # fmt: skip


async def test_evidence_export_round_trip(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    loaded = write_config(database_url)
    raw = orjson.dumps(ALERT)
    async with running_daemon(loaded) as daemon:
        async with daemon.http.post(
            "/webhooks/generic", data=raw, headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status == 202
        await eventually(daemon.incidents, lambda items: len(items) == 1)
        status, _ = await daemon.post_json(
            "/api/v1/incidents/INC-000001/acknowledge", {"author": "alice"}
        )
        assert status == 200
        opened = datetime.now(UTC) - timedelta(days=3)
        for number in range(30):
            await models.Incident.create(
                key=f"INC-9{number:05d}", title=f"old {number}", correlation_key=f"c{number}",
                created_at=opened, updated_at=opened, priority="P3", service="mail",
            )  # fmt: skip

    out = tmp_path / "evidence.zip"
    done = _export(loaded, out)
    assert done.returncode == 0, done.stderr
    assert "31 incidents, sample of 25 (seed 7), audit log intact (2 rows)" in done.stdout
    with zipfile.ZipFile(out) as archive:
        manifest = orjson.loads(archive.read("manifest.json"))
        for name, digest in manifest["files"].items():
            assert hashlib.sha256(archive.read(name)).hexdigest() == digest, name
        rows = list(csv.DictReader(io.StringIO(archive.read("incidents.csv").decode())))
        assert len(rows) == 31 and len(orjson.loads(archive.read("incidents.json"))) == 31
        samples = [name for name in archive.namelist() if name.startswith("sample/")]
        assert len(samples) == 25 == manifest["sample"]["size"]
        assert (
            manifest["config_in_force"]["config_sha256"]
            == hashlib.sha256(loaded.path.read_bytes()).hexdigest()
        )
        assert archive.read("config/gateway.yaml") == loaded.path.read_bytes()
        assert orjson.loads(archive.read("audit/verification.json"))["intact"] is True
        actions = [row["action"] for row in orjson.loads(archive.read("audit/log.json"))]
        assert actions == ["start", "incident.acknowledged"]
        assert "groups" in orjson.loads(archive.read("sla.json"))
        first = "sample/INC-000001.json"
        assert first in samples  # seed 7 draws it (ids 1..31)
        sample = orjson.loads(archive.read(first))
        assert [entry["kind"] for entry in sample["timeline"]][:2] == [
            "opened",
            "acknowledged",
        ]
        assert sample["events"][0]["resource"] == "db1"
        assert sample["intake_records"][0]["sha256"] == hashlib.sha256(raw).hexdigest()
    again = tmp_path / "again.zip"
    assert _export(loaded, again).returncode == 0
    with zipfile.ZipFile(again) as archive:  # the same seed draws the same sample
        assert orjson.loads(archive.read("manifest.json"))["sample"] == manifest["sample"]

    postgres = database_url.startswith("postgres")
    unguard = (
        "DROP TRIGGER audit_log_append_only ON audit_log"
        if postgres
        else "DROP TRIGGER audit_log_no_update"
    )
    await _sql(loaded, unguard, "UPDATE audit_log SET actor = 'mallory' WHERE id = 2")
    done = _export(loaded, tmp_path / "tampered.zip")
    assert done.returncode == 1 and "audit log BROKEN at row 2" in done.stdout
    with zipfile.ZipFile(tmp_path / "tampered.zip") as archive:
        chain = orjson.loads(archive.read("audit/verification.json"))
    assert chain["intact"] is False and chain["broken_id"] == 2
