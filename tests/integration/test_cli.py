"""The daemon as a process: check-config, signals, and durability under kill -9."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

import aiohttp
import orjson
import pytest

from storage import models
from storage.database import Database, DatabaseSettings
from tests.integration.daemon import eventually, process_running, wait_ready

CLI = [sys.executable, "-m", "gateway.cli"]
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _config(tmp_path: Path, port: int, **extra: object) -> Path:
    document = {
        "storage": {"url": f"sqlite://{tmp_path}/gw.sqlite3"},
        "http": {"listen": f"127.0.0.1:{port}"},
        "integrations": [{"name": "generic", "kind": "generic", "dedup_window_seconds": 0}],
        "rules": {"dir": str(tmp_path / "rules"), "catalogue": None},
        "logging": {"level": "info", "format": "json"},
        "pipeline": {"recovery_interval_seconds": 0.2},
        **extra,
    }
    (tmp_path / "rules").mkdir(exist_ok=True)
    path = tmp_path / "gateway.yaml"
    path.write_bytes(orjson.dumps(document))
    return path


def _check(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "check.yaml"
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        [*CLI, "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("http:\n  listen: 127.0.0.1:8080\n  max_body_bytes: lots\n", 3, "valid integer"),
        ("http:\n  listen: 127.0.0.1:8080\n  lisen: 1\n", 3, "unknown option 'lisen'"),
        ("http:\n  listen: nowhere\n", 2, "listen address"),
        ("http:\n  listen: 127.0.0.1:99999\n", 2, "port"),
        ("integrations:\n  - name: a\n    kind: nosuchkind\n", 3, "unknown kind 'nosuchkind'"),
        (
            "integrations:\n  - name: a\n    kind: generic\n    auth:\n      type: bearer\n"
            "      token: {env: INTAKE_TEST_UNSET_VARIABLE}\n",
            6,
            "INTAKE_TEST_UNSET_VARIABLE is not set",
        ),
        ("storage:\n  url: mysql://x\n", 2, "sqlite:// or postgres://"),
        ('http:\n  listen: "127.0.0.1:80\n', 3, "YAML syntax error"),
        (
            "integrations:\n  - name: a\n    kind: generic\n    options:\n      severity: '[['\n",
            5,
            "JMESPath",
        ),
    ],
)
def test_check_config_reports_file_line_and_exits_2(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    result = _check(text, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith(f"{tmp_path / 'check.yaml'}:{line}:"), result.stderr
    assert words in result.stderr


def test_check_config_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    result = subprocess.run(
        [*CLI, "check-config", "--config", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 2 and f"{missing}:0: file not found" in result.stderr
    directory = tmp_path / "adir.yaml"
    directory.mkdir()
    result = subprocess.run(
        [*CLI, "check-config", "--config", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 2 and "cannot read file" in result.stderr


def test_check_config_accepts_the_shipped_example() -> None:
    result = subprocess.run(
        [*CLI, "check-config", "--config", "config/gateway.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert result.stderr == ""  # no warnings either


def test_check_config_warns_about_keys_that_differ_on_recovery_and_missing_holidays(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "10-mail.yaml").write_text(
        "calendars:\n"
        "  - name: office\n"
        "    hours: {mon-fri: '08:00-17:00'}\n"
        "    holidays: [2020-12-25]\n"
        "rules:\n"
        "  - name: monitoring-mail\n"
        "    description: by subject\n"
        "    match: {mail.kind: monitoring}\n"
        "    fingerprint: '{mail.subject}'\n"
    )
    result = _check(f"rules: {{dir: {rules}, catalogue: null}}\n", tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = result.stderr.splitlines()
    assert len(warnings) == 2, result.stderr
    assert warnings[0].startswith(f"{rules / '10-mail.yaml'}:9: warning: the fingerprint uses")
    assert '"mail.subject"' in warnings[0]
    assert warnings[1].startswith(f'{rules / "10-mail.yaml"}:2: warning: calendar "office"')


def test_config_path_comes_from_environment(tmp_path: Path) -> None:
    path = _config(tmp_path, _free_port())
    result = subprocess.run(
        [*CLI, "check-config"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "INTAKE_GATEWAY_CONFIG": str(path)},
    )
    assert result.returncode == 0, result.stderr


def daemon_process(config: Path, log: Path) -> AbstractContextManager[subprocess.Popen[bytes]]:
    return process_running([*CLI, "run", "--config", str(config)], cwd=REPO, log=log)


async def test_sigterm_drains_and_exits_zero(tmp_path: Path) -> None:
    port = _free_port()
    with daemon_process(_config(tmp_path, port), tmp_path / "log") as process:
        await wait_ready(f"http://127.0.0.1:{port}", process)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{port}/webhooks/generic", json={"name": "n", "resource": "r"}
            ) as response,
        ):
            assert response.status == 202
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
    log = (tmp_path / "log").read_text()
    assert '"event": "stopped"' in log


async def test_sighup_applies_valid_config_and_keeps_old_on_error(tmp_path: Path) -> None:
    port = _free_port()
    config = _config(tmp_path, port)
    with daemon_process(config, tmp_path / "log") as process:
        await wait_ready(f"http://127.0.0.1:{port}", process)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/webhooks/portal", json={"name": "n"}) as response:
                assert response.status == 404
            document = orjson.loads(config.read_bytes())
            document["integrations"].append({"name": "portal", "kind": "generic"})
            config.write_bytes(orjson.dumps(document))
            process.send_signal(signal.SIGHUP)

            async def portal_status() -> int:
                async with http.post(
                    f"{base}/webhooks/portal", json={"name": "n", "resource": "r"}
                ) as response:
                    return response.status

            await eventually(portal_status, lambda status: status == 202)
            config.write_text("http:\n  listen: [broken\n", encoding="utf-8")
            process.send_signal(signal.SIGHUP)

            async def reload_failed() -> str:
                async with http.get(f"{base}/metrics") as response:
                    return await response.text()

            metrics = await eventually(
                reload_failed,
                lambda text: "intake_gateway_config_last_reload_successful 0.0" in text,
            )
            assert re.search(r'config_reloads_total\{outcome="failure"\} 1\.0', metrics)
            assert await portal_status() == 202  # the old runtime stays
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert "reload_refused" in (tmp_path / "log").read_text()


async def _post_burst(port: int, total: int, acked: list[int]) -> None:
    """Post ``total`` distinct alerts from 16 clients; record those answered 202."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(total):
        queue.put_nowait(number)

    async def client() -> None:
        async with aiohttp.ClientSession() as http:
            while not queue.empty():
                number = queue.get_nowait()
                try:
                    async with http.post(
                        f"http://127.0.0.1:{port}/webhooks/generic",
                        json={"name": f"alert-{number}", "resource": "host"},
                    ) as response:
                        if response.status == 202:
                            acked.append(number)
                except (aiohttp.ClientError, ConnectionError):
                    return  # the daemon was killed

    await asyncio.gather(*(client() for _ in range(16)))


async def test_kill_9_during_burst_loses_no_acknowledged_post(tmp_path: Path) -> None:
    port = _free_port()
    config = _config(tmp_path, port)
    acked: list[int] = []
    with daemon_process(config, tmp_path / "log") as process:
        await wait_ready(f"http://127.0.0.1:{port}", process)
        burst = asyncio.create_task(_post_burst(port, 2000, acked))
        await eventually(lambda: _length(acked), lambda count: count >= 500, within=60)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        await burst
    assert 500 <= len(acked) < 2000, len(acked)
    with daemon_process(config, tmp_path / "log2") as process:
        await wait_ready(f"http://127.0.0.1:{port}", process)

        async def metrics() -> str:
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://127.0.0.1:{port}/metrics") as response,
            ):
                return await response.text()

        # the records committed before the kill are processed after the restart
        await eventually(
            metrics, lambda text: "intake_gateway_pipeline_pending_records 0.0" in text, within=60
        )
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    database = Database(DatabaseSettings(url=f"sqlite://{tmp_path}/gw.sqlite3"))
    await database.open()
    try:
        bodies = [orjson.loads(bytes(row.body)) for row in await models.IntakeRecordRow.all()]
        names = [body["name"] for body in bodies]
        assert len(names) == len(set(names)), "a post was stored twice"
        stored = set(names)
        missing = [n for n in acked if f"alert-{n}" not in stored]
        assert missing == [], f"{len(missing)} acknowledged posts were lost"
        events = await models.Event.all().count()
        assert events == len(stored)  # the pipeline caught up after restart
    finally:
        await database.close()


async def _length(items: list[int]) -> int:
    return len(items)


async def test_a_json_log_is_one_json_object_per_line_from_us_and_the_libraries(
    tmp_path: Path,
) -> None:
    port, smtp = _free_port(), _free_port()
    config = _config(
        tmp_path,
        port,
        integrations=[{"name": "generic", "kind": "generic", "heartbeat": {"timeout": "1s"}}],
        mailboxes=[{"name": "helpdesk", "address": "helpdesk@example.org"}],
        smtp={"enabled": True, "listen": f"127.0.0.1:{smtp}"},
    )
    log = tmp_path / "log"
    with daemon_process(config, log) as process:
        await wait_ready(f"http://127.0.0.1:{port}", process)
        reader, writer = await asyncio.open_connection("127.0.0.1", smtp)
        await reader.readline()
        writer.write(b"FROBNICATE now\r\n")  # aiosmtpd logs it through the standard library
        await writer.drain()
        assert (await reader.readline()).startswith(b"500")
        writer.close()
        await eventually(  # the heartbeat's warning carries the time it was last seen
            lambda: asyncio.to_thread(log.read_text),
            lambda text: "heartbeat_missing" in text and "unrecognised" in text,
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    lines = [orjson.loads(line) for line in log.read_text().splitlines() if line.strip()]
    smtp_line = next(line for line in lines if "unrecognised" in line["event"])
    assert smtp_line["logger"] == "mail.log" and smtp_line["level"] == "warning"
    missing = next(line for line in lines if line["event"] == "heartbeat_missing")
    assert datetime.fromisoformat(missing["last_seen"]).tzinfo is not None
    assert all({"event", "level", "timestamp"} <= line.keys() for line in lines)
