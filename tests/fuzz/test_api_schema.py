"""Schemathesis against the real daemon on a real socket, with every check on.

The daemon runs as ``intake-gateway run`` on both engines; Schemathesis reads
/api/v1/openapi.json from it and sends what the description allows and what
it forbids (its examples, coverage, fuzzing and stateful phases), checking
each answer against the description: no 5xx, only declared statuses, content
types and bodies, invalid data refused, valid data accepted. The bounds are
in tests/fuzz/schemathesis.toml (about 950 requests, 5 to 10 s per engine).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import require
from tests.integration.replicas import Replica, free_port, write_config

CONFIG = Path(__file__).with_name("schemathesis.toml")


def _schemathesis() -> str | None:
    beside_python = Path(sys.executable).with_name("st")
    return str(beside_python) if beside_python.exists() else shutil.which("st")


async def test_the_api_keeps_its_openapi_description_under_schemathesis(
    tmp_path: Path, database_url: str
) -> None:
    st = _schemathesis()
    require("schemathesis", st is not None, "install the test extras")
    assert st is not None
    (tmp_path / "rules").mkdir()
    port = free_port()
    config = write_config(
        tmp_path / "gateway.yaml",
        {
            "storage": {"url": database_url},
            "http": {"listen": f"127.0.0.1:{port}"},
            "integrations": [{"name": "generic", "kind": "generic"}],
            "rules": {"dir": str(tmp_path / "rules"), "catalogue": None},
            "logging": {"level": "warning", "format": "json"},
        },
    )
    daemon = Replica("schemathesis", config, port, tmp_path / "daemon.log")
    daemon.start()
    try:
        await daemon.ready()
        # an incident and its events, so the read and action routes have something to find
        async with aiohttp.ClientSession() as http:
            alert = {"name": "disk full", "resource": "db1", "severity": "critical"}
            async with http.post(f"{daemon.url}/webhooks/generic", json=alert) as response:
                assert response.status == 202
        process = await asyncio.create_subprocess_exec(
            st,
            "--no-color",
            "--config-file",
            str(CONFIG),
            "run",
            f"{daemon.url}/api/v1/openapi.json",
            "--checks",
            "all",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,  # its cache directory goes there
        )
        output, _ = await asyncio.wait_for(process.communicate(), 300)
        report = output.decode(errors="replace")
        assert process.returncode == 0, report[-6000:]
        assert daemon.alive, "the daemon died under the run"
        # nothing it was sent was a fault of its own
        assert daemon.log_lines("error") == []
        assert b"Traceback" not in daemon.log.read_bytes()
    finally:
        daemon.stop()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Schemathesis goes through requests, which honours proxy variables; loopback only
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
