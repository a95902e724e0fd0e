"""IMAP intake end to end, against a real Dovecot started by each test."""

from __future__ import annotations

import asyncio
import smtplib
from typing import Any

from gateway.intake.imap_session import ImapSession
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.dovecot import PASSWORD, USER, Dovecot
from tests.integration.mail_support import (
    HELPDESK,
    MAILBOXES,
    mail_records,
    message,
    running_worker,
    smtp_port,
    smtp_section,
)

SEEN = b"\\Seen"


def account(server: Dovecot, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "support",
        "mailbox": "helpdesk",
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",
        "username": USER,
        "password": PASSWORD,
        "poll_interval_seconds": 1,
        "timeout_seconds": 5,
        "reconnect_max_seconds": 2,
        **overrides,
    }


def _imap_config(write_config: ConfigWriter, server: Dovecot, **overrides: Any) -> Any:
    return write_config(mailboxes=MAILBOXES, imap={"accounts": [account(server, **overrides)]})


async def _flags(server: Dovecot, folder: str = "INBOX") -> list[tuple[bytes, ...]]:
    return await asyncio.to_thread(server.flags, folder)


async def _append(server: Dovecot, raw: bytes, folder: str = "INBOX", seen: bool = False) -> None:
    await asyncio.to_thread(server.append, folder, raw, (SEEN,) if seen else ())


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def _metrics(daemon: RunningDaemon) -> str:
    return await (await daemon.http.get("/metrics")).text()


async def test_unseen_mail_is_stored_then_flagged_seen(
    write_config: ConfigWriter, dovecot: Dovecot
) -> None:
    await _append(dovecot, message("read already", message_id="<old@client.example>"), seen=True)
    await _append(dovecot, message())
    async with running_daemon(_imap_config(write_config, dovecot)) as daemon:
        await eventually(lambda: _flags(dovecot), lambda flags: all(SEEN in f for f in flags))
        [record] = await mail_records()
        assert bytes(record.body) == message()
        assert (record.channel, record.source, record.kind) == ("imap", "helpdesk", "email")
        uidvalidity = await asyncio.to_thread(dovecot.uidvalidity, "INBOX")
        assert record.meta["account"] == "support" and record.meta["folder"] == "INBOX"
        assert record.meta["uidvalidity"] == str(uidvalidity) and record.meta["uid"] == "2"
        assert record.meta["imap_key"] == f"imap:support:INBOX:{uidvalidity}:2"
        [incident] = await eventually(daemon.incidents, lambda items: len(items) == 1)
        assert incident["title"] == "Printer on floor 3 is broken"
        lag = _metric(
            await _metrics(daemon),
            'intake_gateway_imap_poll_lag_seconds{account="support",folder="INBOX"}',
        )
        assert 0 <= lag < 30


async def test_after_move_takes_every_message_into_the_processed_folder(
    write_config: ConfigWriter, dovecot: Dovecot
) -> None:
    await _append(dovecot, message("one", message_id="<1@client.example>"), seen=True)
    await _append(dovecot, message("two", message_id="<2@client.example>"))
    loaded = _imap_config(write_config, dovecot, after="move", processed_folder="Taken")
    async with running_daemon(loaded):
        await eventually(lambda: _flags(dovecot), lambda flags: flags == [])
        assert len(await _flags(dovecot, "Taken")) == 2
        assert len(await mail_records()) == 2


async def test_idle_takes_new_mail_without_waiting_for_the_poll(
    write_config: ConfigWriter, dovecot: Dovecot
) -> None:
    await _append(dovecot, message("first", message_id="<1@client.example>"))
    loaded = _imap_config(write_config, dovecot, poll_interval_seconds=600)
    async with running_daemon(loaded):
        # marked: the worker has taken the folder and goes into IDLE
        await eventually(lambda: _flags(dovecot), lambda flags: flags == [(SEEN,)])
        await asyncio.sleep(0.3)
        await _append(dovecot, message("second", message_id="<2@client.example>"))
        # far sooner than the 600 s poll: the server's IDLE notice woke the worker
        await eventually(mail_records, lambda records: len(records) == 2, within=10)


async def test_recreated_folder_with_a_new_uidvalidity_makes_no_duplicates(
    write_config: ConfigWriter, dovecot: Dovecot
) -> None:
    mails = [message(f"mail {n}", message_id=f"<{n}@client.example>") for n in range(3)]
    mails.append(message("no message id", message_id=None))
    for raw in mails:
        await _append(dovecot, raw, folder="Support")
    loaded = _imap_config(write_config, dovecot, folders=["Support"])
    async with running_daemon(loaded):
        await eventually(lambda: _flags(dovecot, "Support"), lambda f: all(SEEN in x for x in f))
        assert len(await mail_records()) == 4
    before = await asyncio.to_thread(dovecot.uidvalidity, "Support")
    await asyncio.to_thread(dovecot.recreate, "Support")
    for raw in mails:
        await _append(dovecot, raw, folder="Support")
    assert await asyncio.to_thread(dovecot.uidvalidity, "Support") != before
    async with running_daemon(loaded) as daemon:
        flags = await eventually(
            lambda: _flags(dovecot, "Support"), lambda f: all(SEEN in x for x in f)
        )
        assert len(flags) == 4
        assert len(await mail_records()) == 4
        duplicates = 'intake_gateway_mail_messages_total{channel="imap",outcome="duplicate"}'
        assert _metric(await _metrics(daemon), duplicates) == 4


class _CrashBeforeMarking(ImapSession):
    """As if the process died after the commit and before \\Seen was set."""

    def mark_taken(self, uids: Any) -> None:
        raise ConnectionResetError("gone before marking")


async def test_stop_between_commit_and_marking_makes_no_duplicate(
    write_config: ConfigWriter, dovecot: Dovecot
) -> None:
    await _append(dovecot, message())
    async with running_daemon(write_config(mailboxes=MAILBOXES)) as daemon:
        async with running_worker(daemon, account(dovecot), _CrashBeforeMarking.open):
            await eventually(mail_records, lambda records: len(records) == 1)
        assert await _flags(dovecot) == [()]  # stored, never marked
        async with running_worker(daemon, account(dovecot)):
            await eventually(lambda: _flags(dovecot), lambda flags: flags == [(SEEN,)])
        assert len(await mail_records()) == 1
        await eventually(daemon.incidents, lambda items: len(items) == 1)


async def test_oversized_message_is_left_in_place_and_never_fetched(
    write_config: ConfigWriter, dovecot: Dovecot
) -> None:
    huge = message("huge attachment", message_id="<huge@client.example>", body="x" * 2_000_000)
    await _append(dovecot, huge)
    await _append(dovecot, message())
    loaded = _imap_config(write_config, dovecot, max_message_bytes=64 * 1024, idle=False)
    async with running_daemon(loaded) as daemon:
        await eventually(lambda: _flags(dovecot), lambda flags: flags == [(), (SEEN,)])
        await asyncio.sleep(2.5)  # a few more polls: reported once, still not fetched
        [record] = await mail_records()
        assert bytes(record.body) == message()
        too_large = 'intake_gateway_mail_messages_total{channel="imap",outcome="too_large"}'
        assert _metric(await _metrics(daemon), too_large) == 1
    # Dovecot logs the bytes it sent in each session: none carried the 2 MB body
    sent = dovecot.bytes_sent_per_session()
    assert sent and max(sent) < 200_000, sent


async def test_same_mail_by_smtp_and_by_imap_is_one_record(
    write_config: ConfigWriter, dovecot: Dovecot
) -> None:
    loaded = write_config(
        smtp=smtp_section(), mailboxes=MAILBOXES, imap={"accounts": [account(dovecot)]}
    )
    async with running_daemon(loaded) as daemon:

        def send() -> None:
            with smtplib.SMTP("127.0.0.1", smtp_port(daemon), timeout=10) as client:
                client.sendmail("Alice@Client.example", [HELPDESK], message())

        await asyncio.to_thread(send)
        # the copy a mail server delivered into the mailbox, with the envelope sender
        delivered = b"Return-Path: <alice@client.example>\r\nDelivered-To: helpdesk\r\n"
        await _append(dovecot, delivered + message())
        await eventually(lambda: _flags(dovecot), lambda flags: flags == [(SEEN,)])
        [record] = await mail_records()
        assert record.channel == "smtp"
        duplicates = 'intake_gateway_mail_messages_total{channel="imap",outcome="duplicate"}'
        assert _metric(await _metrics(daemon), duplicates) == 1


async def test_worker_reconnects_after_the_server_drops_it(
    write_config: ConfigWriter, dovecot: Dovecot
) -> None:
    async with running_daemon(_imap_config(write_config, dovecot)) as daemon:
        await _append(dovecot, message("before", message_id="<1@client.example>"))
        await eventually(mail_records, lambda records: len(records) == 1)
        await asyncio.to_thread(dovecot.kick)
        await _append(dovecot, message("after", message_id="<2@client.example>"))
        await eventually(mail_records, lambda records: len(records) == 2, within=20)
        errors = [
            line
            for line in (await _metrics(daemon)).splitlines()
            if line.startswith('intake_gateway_imap_errors_total{account="support"')
        ]
        assert errors and any(float(line.rsplit(" ", 1)[1]) > 0 for line in errors)
