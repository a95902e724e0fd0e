"""The systemd unit: valid, Type=notify, hardened; and the notify protocol itself."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from gateway.systemd import Notifier
from tests.conftest import require

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "intake-gateway.service"


def _unit_for_this_machine(tmp_path: Path) -> Path:
    """The shipped unit with ExecStart pointing at this checkout's console script."""
    script = Path(sys.prefix) / "bin" / "intake-gateway"
    text = UNIT.read_text().replace("/opt/intake-gateway/venv/bin/intake-gateway", str(script))
    path = tmp_path / "intake-gateway.service"
    path.write_text(text)
    return path


def _analyze() -> str:
    found = shutil.which("systemd-analyze")
    require("systemd-analyze (Debian package systemd)", found is not None)
    assert found is not None
    return found


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    result = subprocess.run(
        [_analyze(), "verify", str(_unit_for_this_machine(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_unit_is_notify_with_watchdog_user_and_hardening() -> None:
    text = UNIT.read_text()
    for line in (
        "Type=notify",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "ReadWritePaths=/var/lib/intake-gateway",
        "User=intake-gateway",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ):
        assert re.search(rf"^{re.escape(line)}$", text, re.MULTILINE), line
    assert re.search(r"^WatchdogSec=\d+s$", text, re.MULTILINE)


def test_unit_exposure_score_is_low(tmp_path: Path) -> None:
    result = subprocess.run(
        [_analyze(), "security", "--offline=true", str(_unit_for_this_machine(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout


def test_notifier_speaks_sd_notify(tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(address)
        server.settimeout(5)
        notifier = Notifier(address)
        notifier.ready()
        assert server.recv(4096).startswith(b"READY=1\n")
        notifier.watchdog()
        assert server.recv(4096) == b"WATCHDOG=1"
        notifier.stopping()
        assert server.recv(4096).startswith(b"STOPPING=1")


def test_notifier_is_silent_outside_systemd() -> None:
    notifier = Notifier("")
    assert not notifier.enabled
    notifier.ready()  # no socket: nothing happens, nothing raises


def test_daemon_notifies_ready_watchdog_and_stopping(tmp_path: Path) -> None:
    from tests.integration.test_cli import CLI, REPO, _config, _free_port

    address = str(tmp_path / "notify.sock")
    config = _config(tmp_path, _free_port())
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(address)
        server.settimeout(30)
        env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"}
        process = subprocess.Popen(
            [*CLI, "run", "--config", str(config)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            messages: list[bytes] = []
            while not any(m == b"WATCHDOG=1" for m in messages):
                messages.append(server.recv(4096))
            assert messages[0].startswith(b"READY=1")
            process.terminate()
            while not messages[-1].startswith(b"STOPPING=1"):
                messages.append(server.recv(4096))
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
