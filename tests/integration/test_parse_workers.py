"""Mail parsed in worker processes: the same events, errors kept apart, a dead worker
replaced, a lower CPU priority; and correlation keeps advancing while senders keep
coming."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime

import pytest

from core.errors import ParseError
from core.records import Channel, Event, EventStatus, IntakeRecord, Severity
from gateway.config.mail import MailboxConfig
from gateway.processing.parsepool import ParsePool, ParserCrashed
from gateway.runtime import MailboxParser
from tests.conftest import ConfigWriter
from tests.integration.daemon import eventually, running_daemon

MAIL = (
    b"From: Li Wei <li.wei@example.cn>\r\nTo: helpdesk@example.org\r\n"
    b"Subject: =?GB2312?B?tPLTobv6ucrVzw==?=\r\nMessage-ID: <m1@example.cn>\r\n"
    b"Date: Mon, 2 Mar 2026 09:00:00 +0800\r\n\r\nThe printer on floor 3 is down.\r\n"
)


def _record(number: int, raw: bytes = MAIL) -> IntakeRecord:
    return IntakeRecord(
        number,
        Channel.SMTP,
        "helpdesk",
        "email",
        datetime(2026, 3, 2, 1, 0, tzinfo=UTC),
        raw,
        {"mail_from": "li.wei@example.cn"},
    )


class WhoParses:
    """Answers with the process id and nice value of whoever parses; module level, so
    worker processes can unpickle it."""

    def parse(self, record: IntakeRecord) -> list[Event]:
        if record.raw == b"crash":
            raise ValueError("parser bug")
        if record.raw == b"refuse":
            raise ParseError("not_a_message", "no headers")
        return [
            Event(
                source=record.source,
                kind=record.kind,
                name="who",
                resource=str(os.getpid()),
                severity=Severity.INFO,
                status=EventStatus.FIRING,
                summary=str(os.nice(0)),
                occurred_at=record.received_at,
            )
        ]


async def test_workers_parse_mail_exactly_as_the_daemon_would() -> None:
    parser = MailboxParser.for_mailbox(MailboxConfig(name="helpdesk", address="helpdesk@x.org"))
    records = [_record(number) for number in range(1, 6)]
    async with ParsePool(workers=2, niceness=10).running() as pool:
        outcomes = await pool.parse_many([(parser, record) for record in records])
    assert outcomes == [parser.parse(record) for record in records]
    first = outcomes[0]
    assert isinstance(first, list) and first[0].summary == "打印机故障"


async def test_workers_run_at_a_lower_priority_in_other_processes() -> None:
    async with ParsePool(workers=1, niceness=7).running() as pool:
        outcomes = await pool.parse_many([(WhoParses(), _record(1, b"x"))])
    (events,) = outcomes
    assert isinstance(events, list)
    assert events[0].resource != str(os.getpid())
    assert int(events[0].summary) == os.nice(0) + 7


async def test_errors_come_back_per_record_and_the_others_are_parsed() -> None:
    parser = WhoParses()
    raws = [b"ok", b"refuse", b"crash", b"ok"]
    async with ParsePool(workers=2, niceness=0).running() as pool:
        outcomes = await pool.parse_many(
            [(parser, _record(n, raw)) for n, raw in enumerate(raws, 1)]
        )
    assert isinstance(outcomes[0], list) and isinstance(outcomes[3], list)
    refused = outcomes[1]
    assert isinstance(refused, ParseError) and refused.reason == "not_a_message"
    assert str(refused) == "no headers"
    crashed = outcomes[2]
    assert isinstance(crashed, ParserCrashed) and "parser bug" in str(crashed)


async def test_a_dead_worker_is_replaced_and_nothing_is_lost() -> None:
    parser = WhoParses()
    async with ParsePool(workers=1, niceness=0).running() as pool:
        await _kill_workers(pool)
        outcomes = await pool.parse_many([(parser, _record(2, b"ok"))])
        assert isinstance(outcomes[0], list)
        outcomes = await pool.parse_many([(parser, _record(3, b"ok"))])
        assert isinstance(outcomes[0], list) and outcomes[0][0].resource != str(os.getpid())


async def _kill_workers(pool: ParsePool) -> None:
    await pool.parse_many([(WhoParses(), _record(99, b"x"))])  # the worker is up
    executor = pool._executor
    assert executor is not None
    for process in list(executor._processes.values()):
        assert process.pid is not None
        os.kill(process.pid, signal.SIGKILL)
    await asyncio.sleep(0.5)


async def test_correlation_advances_while_senders_keep_coming(
    write_config: ConfigWriter,
) -> None:
    config = write_config(pipeline={"busy_share": 0.2, "recovery_interval_seconds": 5})
    async with running_daemon(config) as daemon:
        processed_during_load: list[int] = []

        async def keep_sending(sender: int) -> None:
            for number in range(600):
                status, _ = await daemon.post_json(
                    "/webhooks/generic",
                    {
                        "name": f"check {number % 50}",
                        "resource": "web1",
                        "summary": f"slow ({sender}/{number})",  # every body a new record
                    },
                )
                assert status == 202

        async def watch() -> None:
            while True:
                processed_during_load.append(daemon.services.pipeline.processed)
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(keep_sending(sender) for sender in range(8)))
        watcher.cancel()
        # correlation did not wait for the senders to stop
        assert max(processed_during_load) > 0
        await eventually(
            lambda: asyncio.sleep(0, daemon.services.pipeline.processed),
            lambda done: done == 4800,
        )


@pytest.mark.parametrize("share", [0.0, 1.5])
def test_busy_share_must_be_a_fraction(write_config: ConfigWriter, share: float) -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="busy_share"):
        write_config(pipeline={"busy_share": share})


_ABANDONING_DAEMON = """
import asyncio, sys
from datetime import UTC, datetime
from gateway.processing.parsepool import ParsePool
from core.records import Channel, IntakeRecord
from tests.integration.test_parse_workers import WhoParses

async def main() -> None:
    record = IntakeRecord(1, Channel.SMTP, "helpdesk", "email", datetime.now(UTC), b"x", {})
    async with ParsePool(workers=2, niceness=0).running() as pool:
        await pool.parse_many([(WhoParses(), record), (WhoParses(), record)])
        assert pool._executor is not None
        print(*pool._executor._processes, flush=True)
        await asyncio.sleep(600)

asyncio.run(main())
"""


def test_workers_end_when_the_daemon_is_killed_outright() -> None:
    import subprocess
    import sys
    import time
    from pathlib import Path

    daemon = subprocess.Popen(
        [sys.executable, "-c", _ABANDONING_DAEMON],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert daemon.stdout is not None
        workers = [int(pid) for pid in daemon.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
    finally:
        daemon.kill()
        daemon.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers), "parse workers outlived their daemon"


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent to collect it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
