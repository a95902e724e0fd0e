"""kill -9 in the middle of SMTP intake: what got 250 is stored, and nothing twice.

The real daemon runs as a subprocess (``intake-gateway run``). Sixteen clients
send 1,000 messages; the daemon is killed with SIGKILL partway; it is started
again on the same database and every message is sent again, as MTAs do with
mail that got no answer.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import smtplib
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest

from tests.conftest import require
from tests.integration.mail_support import HELPDESK, MAILBOXES, message

MESSAGES = 1000
CLIENTS = 16
KILL_AFTER = 300
_MESSAGE_ID = re.compile(rb"Message-ID: <(\d+)@durability\.test>")


def _message(number: int) -> bytes:
    return message(f"durability {number}", message_id=f"<{number}@durability.test>")


def _executable() -> str:
    beside = Path(sys.executable).with_name("intake-gateway")
    found = str(beside) if beside.exists() else shutil.which("intake-gateway")
    require("the intake-gateway command (pip install -e .)", found is not None)
    assert found is not None
    return found


@contextmanager
def daemon_process(config: Path, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """The daemon as a subprocess, and its SMTP port once it listens."""
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            [_executable(), "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        yield process, _smtp_port(process, log, offset)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)


def _smtp_port(process: subprocess.Popen[bytes], log: Path, offset: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[offset:]
        with log.open("rb") as lines:
            lines.seek(offset)
            for line in lines:
                if b'"smtp_listening"' in line:
                    address: str = orjson.loads(line)["addresses"][0]
                    return int(address.rsplit(":", 1)[1])
        time.sleep(0.05)
    raise AssertionError("the daemon did not start listening: " + log.read_text()[offset:])


def _send_all(port: int, numbers: list[int], acked: dict[int, int]) -> dict[int, int]:
    """Send from CLIENTS parallel connections; fill ``acked`` with number -> id of each 250."""
    lock = threading.Lock()

    def client(mine: list[int]) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                smtp.ehlo("durability.test")
                for number in mine:
                    smtp.mail(f"sender{number % CLIENTS}@durability.test")
                    smtp.rcpt(HELPDESK)
                    code, answer = smtp.data(_message(number))
                    if code == 250:
                        with lock:
                            acked[number] = int(answer.decode().rsplit(" ", 1)[1])
        except (OSError, smtplib.SMTPException):
            return  # the daemon was killed: whatever got no 250 is sent again later

    threads = [
        threading.Thread(target=client, args=(numbers[index::CLIENTS],)) for index in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return acked


def _stored(database: Path) -> list[tuple[int, int]]:
    """(message number, record id) of every stored record."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT id, body FROM intake_records").fetchall()
    found = []
    for record_id, body in rows:
        match = _MESSAGE_ID.search(body)
        assert match, body[:200]
        found.append((int(match.group(1)), int(record_id)))
    return found


@pytest.mark.slow
def test_sigkill_loses_no_acknowledged_message_and_stores_none_twice(tmp_path: Path) -> None:
    database = tmp_path / "gateway.sqlite3"
    (tmp_path / "rules").mkdir()
    config = tmp_path / "gateway.yaml"
    config.write_bytes(
        orjson.dumps(
            {
                "storage": {"url": f"sqlite://{database}"},
                "http": {"listen": "127.0.0.1:0"},
                "smtp": {"enabled": True, "listen": "127.0.0.1:0"},
                "mailboxes": MAILBOXES,
                "rules": {"dir": str(tmp_path / "rules"), "catalogue": None},
                "logging": {"level": "info", "format": "json"},
            }
        )
    )
    log = tmp_path / "daemon.log"
    numbers = list(range(MESSAGES))

    with daemon_process(config, log) as (process, port):
        acked: dict[int, int] = {}
        sender = threading.Thread(target=_send_all, args=(port, numbers, acked))
        sender.start()
        while len(acked) < KILL_AFTER and sender.is_alive():
            time.sleep(0.001)
        os.kill(process.pid, signal.SIGKILL)
        sender.join(120)
    assert 0 < len(acked) < MESSAGES, len(acked)
    first_run = _stored(database)
    assert len({number for number, _ in first_run}) == len(first_run)  # none twice
    assert {number: acked[number] for number, _ in first_run if number in acked} == acked

    with daemon_process(config, log) as (process, port):
        again = _send_all(port, numbers, {})
        assert len(again) == MESSAGES
        for number, record_id in acked.items():
            assert again[number] == record_id  # the original, not a new record
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    stored = _stored(database)
    assert sorted(number for number, _ in stored) == numbers  # each exactly once
