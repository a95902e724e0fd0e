"""SMTP intake end to end: a real listener in the daemon, driven by swaks, smtplib and
raw sockets."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from pathlib import Path

import pytest

from gateway.config.model import LoadedConfig
from tests.conftest import ConfigWriter
from tests.integration.daemon import eventually, running_daemon
from tests.integration.mail_support import (
    ALERTS,
    HELPDESK,
    MAILBOXES,
    RawSmtp,
    mail_records,
    message,
    refusing_connections,
    require_swaks_tls,
    self_signed_certificate,
    smtp_port,
    smtp_section,
    swaks,
)


def _send(port: int, sender: str, recipients: list[str], data: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail(sender, recipients, data)


async def _send_one(port: int, data: bytes, sender: str = "alice@client.example") -> str:
    """Send with smtplib; return the server's answer to the end of DATA."""

    def send() -> str:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo("client.example")
            client.mail(sender)
            client.rcpt(HELPDESK)
            code, text = client.data(data)
            return f"{code} {text.decode()}"

    return await asyncio.to_thread(send)


async def test_swaks_message_is_stored_raw_and_becomes_an_incident(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    eml = tmp_path / "printer.eml"
    eml.write_bytes(message().removesuffix(b"\r\n"))  # swaks ends the data with CRLF itself
    loaded = write_config(database_url, smtp=smtp_section(), mailboxes=MAILBOXES)
    async with running_daemon(loaded) as daemon:
        run = await swaks(
            smtp_port(daemon),
            "--ehlo",
            "client.example",
            "--from",
            "alice@client.example",
            "--to",
            HELPDESK,
            "--data",
            f"@{eml}",
        )
        assert run.returncode == 0, run.transcript
        [queued] = [line for line in run.server_lines() if "queued as" in line]
        [record] = await mail_records()
        assert queued == f"250 OK queued as {record.id}"
        assert bytes(record.body) == message()  # unchanged, byte for byte
        assert (record.channel, record.source, record.kind) == ("smtp", "helpdesk", "email")
        assert record.meta["mail_from"] == "alice@client.example"
        assert record.meta["rcpt_to"] == HELPDESK
        assert record.meta["helo"] == "client.example"
        assert record.meta["peer"] == "127.0.0.1"
        assert record.meta["tls"] == "false"
        [incident] = await eventually(daemon.incidents, lambda items: len(items) == 1)
        assert incident["title"] == "Printer on floor 3 is broken"
        assert incident["service"] == "service-desk"  # the mailbox's default service


async def test_redelivery_is_acknowledged_with_the_original_id_and_stored_once(
    write_config: ConfigWriter,
) -> None:
    async with running_daemon(write_config(smtp=smtp_section(), mailboxes=MAILBOXES)) as daemon:
        port = smtp_port(daemon)
        first = await _send_one(port, message())
        again = await _send_one(port, message())
        [record] = await mail_records()
        assert first == again == f"250 OK queued as {record.id}"
        # same Message-ID from another sender is another mail
        other = await _send_one(port, message(), sender="mallory@elsewhere.example")
        assert other != first and other.startswith("250 ")
        await eventually(daemon.incidents, lambda items: len(items) == 1)
        assert len(await mail_records()) == 2


async def test_message_without_message_id_is_deduplicated_by_content(
    write_config: ConfigWriter,
) -> None:
    async with running_daemon(write_config(smtp=smtp_section(), mailboxes=MAILBOXES)) as daemon:
        port = smtp_port(daemon)
        first = await _send_one(port, message(message_id=None))
        assert await _send_one(port, message(message_id=None)) == first
        changed = await _send_one(port, message(message_id=None, body="Now it jams too."))
        assert changed != first
        records = await mail_records()
        assert len(records) == 2
        assert all(str(record.dedup_key).startswith("mail-content:") for record in records)


async def test_unknown_recipient_gets_550_at_rcpt(write_config: ConfigWriter) -> None:
    async with running_daemon(write_config(smtp=smtp_section(), mailboxes=MAILBOXES)) as daemon:
        run = await swaks(
            smtp_port(daemon), "--from", "a@client.example", "--to", "nobody@example.org"
        )
        assert run.returncode != 0
        assert "550 5.1.1 <nobody@example.org>: no such mailbox here" in run.server_lines()
        assert not any(line.startswith("354") for line in run.server_lines())
        # a known and an unknown recipient: the message goes to the known one only
        await asyncio.to_thread(
            _send, smtp_port(daemon), "a@client.example", ["x@example.org", ALERTS], message()
        )
        [record] = await mail_records()
        assert record.source == "alerts" and record.meta["rcpt_to"] == ALERTS


async def test_message_to_two_mailboxes_is_one_record_of_the_first(
    write_config: ConfigWriter,
) -> None:
    async with running_daemon(write_config(smtp=smtp_section(), mailboxes=MAILBOXES)) as daemon:
        await asyncio.to_thread(
            _send, smtp_port(daemon), "a@client.example", [ALERTS, HELPDESK.upper()], message()
        )
        [record] = await mail_records()
        assert record.source == "alerts"
        assert record.meta["rcpt_to"] == f"{ALERTS},{HELPDESK.upper()}"


async def test_size_is_advertised_and_enforced(write_config: ConfigWriter) -> None:
    loaded = write_config(smtp=smtp_section(max_message_bytes=4096), mailboxes=MAILBOXES)
    async with running_daemon(loaded) as daemon:
        client, greeting = await RawSmtp.connect(smtp_port(daemon))
        assert greeting.code == 220 and greeting.text.startswith("mx.test ")
        ehlo = await client.command("EHLO client.example")
        assert "SIZE 4096" in ehlo.lines
        # declared too large: refused before any data is sent
        refused = await client.command("MAIL FROM:<a@client.example> SIZE=5000")
        assert refused.code == 552
        # not declared: the excess is read and dropped, then 552 at the end of DATA
        assert (await client.command("MAIL FROM:<a@client.example>")).code == 250
        assert (await client.command(f"RCPT TO:<{HELPDESK}>")).code == 250
        assert (await client.command("DATA")).code == 354
        await client.send(message(body="x" * 80 + "\r\n" + ("y" * 998 + "\r\n") * 8))
        assert (await client.command(".")).code == 552
        # the session goes on: a message within the limit is taken
        assert (await client.command("MAIL FROM:<a@client.example>")).code == 250
        assert (await client.command(f"RCPT TO:<{HELPDESK}>")).code == 250
        assert (await client.command("DATA")).code == 354
        await client.send(message())
        assert (await client.command(".")).code == 250
        await client.close()
        assert len(await mail_records()) == 1
        metrics = (await (await daemon.http.get("/metrics")).text()).splitlines()
        assert 'intake_gateway_mail_messages_total{channel="smtp",outcome="too_large"} 2.0' in (
            metrics
        )


async def test_too_many_recipients_get_452(write_config: ConfigWriter) -> None:
    mailboxes = [{"name": f"box{n}", "address": f"box{n}@example.org"} for n in range(4)]
    loaded = write_config(smtp=smtp_section(max_recipients=3), mailboxes=mailboxes)
    async with running_daemon(loaded) as daemon:
        client, _ = await RawSmtp.connect(smtp_port(daemon))
        await client.command("EHLO client.example")
        await client.command("MAIL FROM:<a@client.example>")
        codes = [(await client.command(f"RCPT TO:<box{n}@example.org>")).code for n in range(4)]
        assert codes == [250, 250, 250, 452]
        assert (await client.command("DATA")).code == 354
        await client.send(message())
        assert (await client.command(".")).code == 250
        await client.close()
        [record] = await mail_records()
        assert record.meta["rcpt_to"] == "box0@example.org,box1@example.org,box2@example.org"


def _on_postgres(write_config: ConfigWriter, url: str) -> LoadedConfig:
    storage = {"url": url, "connect_timeout_seconds": 1}
    return write_config(url, storage=storage, smtp=smtp_section(), mailboxes=MAILBOXES)


@pytest.mark.postgres
async def test_commit_failure_answers_451(write_config: ConfigWriter, postgres_url: str) -> None:
    loaded = _on_postgres(write_config, postgres_url)
    async with running_daemon(loaded) as daemon:
        async with refusing_connections(postgres_url):
            answer = await _send_one(smtp_port(daemon), message())
        assert answer.startswith("451 4.3.0 "), answer
        metrics = (await (await daemon.http.get("/metrics")).text()).splitlines()
        assert 'intake_gateway_mail_messages_total{channel="smtp",outcome="unavailable"} 1.0' in (
            metrics
        )


@pytest.mark.postgres
async def test_message_retried_after_a_database_outage_is_stored_once(
    write_config: ConfigWriter, postgres_url: str
) -> None:
    loaded = _on_postgres(write_config, postgres_url)
    async with running_daemon(loaded) as daemon:
        port = smtp_port(daemon)
        async with refusing_connections(postgres_url):
            assert (await _send_one(port, message())).startswith("451 ")
        # the sender kept the message and retries
        retried = await eventually(
            lambda: _send_one(port, message()), lambda answer: answer.startswith("250 ")
        )
        [record] = await mail_records()
        assert retried == f"250 OK queued as {record.id}"


async def test_starttls_auth_and_delivery_with_swaks(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    require_swaks_tls()
    cert, key = self_signed_certificate(tmp_path)
    smtp = smtp_section(
        tls={"cert_file": str(cert), "key_file": str(key)},
        auth={"required": True, "users": [{"username": "monitor", "password": "s3cret"}]},
    )
    eml = tmp_path / "alert.eml"
    eml.write_bytes(message("disk full on db1"))
    async with running_daemon(write_config(smtp=smtp, mailboxes=MAILBOXES)) as daemon:
        port = smtp_port(daemon)
        common = ("--from", "monitor@client.example", "--to", ALERTS, "--data", f"@{eml}")
        run = await swaks(
            port, "--tls", "--auth", "PLAIN", "--auth-user", "monitor",
            "--auth-password", "s3cret", *common,
        )  # fmt: skip
        assert run.returncode == 0, run.transcript
        wrong = await swaks(
            port, "--tls", "--auth", "LOGIN", "--auth-user", "monitor",
            "--auth-password", "guess", *common,
        )  # fmt: skip
        assert wrong.returncode != 0
        assert any(line.startswith("535 ") for line in wrong.server_lines()), wrong.transcript
        [record] = await mail_records()
        assert record.meta["tls"] == "true" and record.meta["auth_user"] == "monitor"


async def test_auth_is_not_offered_nor_accepted_without_tls(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    smtp = smtp_section(
        tls={"cert_file": str(cert), "key_file": str(key)},
        auth={"required": True, "users": [{"username": "monitor", "password": "s3cret"}]},
    )
    async with running_daemon(write_config(smtp=smtp, mailboxes=MAILBOXES)) as daemon:
        client, _ = await RawSmtp.connect(smtp_port(daemon))
        ehlo = await client.command("EHLO client.example")
        assert "STARTTLS" in ehlo.lines
        assert not any(line.startswith("AUTH") for line in ehlo.lines)
        refused = await client.command("AUTH PLAIN AG1vbml0b3IAczNjcmV0")  # monitor / s3cret
        assert refused.code == 538
        assert (await client.command("MAIL FROM:<a@client.example>")).code == 530
        await client.close()

        def after_starttls() -> list[str]:
            context = ssl.create_default_context(cafile=str(cert))
            with smtplib.SMTP("127.0.0.1", smtp_port(daemon), timeout=10) as smtp_client:
                smtp_client.starttls(context=context)
                smtp_client.ehlo("client.example")
                return sorted(smtp_client.esmtp_features)

        assert "auth" in await asyncio.to_thread(after_starttls)
        assert await mail_records() == []


async def test_require_tls_refuses_mail_before_starttls(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    smtp = smtp_section(tls={"cert_file": str(cert), "key_file": str(key), "require_tls": True})
    async with running_daemon(write_config(smtp=smtp, mailboxes=MAILBOXES)) as daemon:
        client, _ = await RawSmtp.connect(smtp_port(daemon))
        await client.command("EHLO client.example")
        assert (await client.command("MAIL FROM:<a@client.example>")).code == 530
        await client.close()

        def send_over_tls() -> None:
            context = ssl.create_default_context(cafile=str(cert))
            with smtplib.SMTP("127.0.0.1", smtp_port(daemon), timeout=10) as smtp_client:
                smtp_client.starttls(context=context)
                smtp_client.sendmail("a@client.example", [HELPDESK], message())

        await asyncio.to_thread(send_over_tls)
        [record] = await mail_records()
        assert record.meta["tls"] == "true"


async def test_client_outside_allowed_networks_gets_554_at_connect(
    write_config: ConfigWriter,
) -> None:
    loaded = write_config(
        smtp=smtp_section(allowed_networks=["10.0.0.0/8", "fd00::/8"]), mailboxes=MAILBOXES
    )
    async with running_daemon(loaded) as daemon:
        client, greeting = await RawSmtp.connect(smtp_port(daemon))
        assert greeting.code == 554
        assert await client.at_eof()
        await client.close()
        run = await swaks(smtp_port(daemon), "--from", "a@client.example", "--to", HELPDESK)
        assert run.returncode != 0 and run.server_lines()[0].startswith("554 ")
        assert await mail_records() == []


async def test_connections_past_the_limit_get_421(write_config: ConfigWriter) -> None:
    loaded = write_config(smtp=smtp_section(max_connections=2), mailboxes=MAILBOXES)
    async with running_daemon(loaded) as daemon:
        port = smtp_port(daemon)
        first, hello1 = await RawSmtp.connect(port)
        second, hello2 = await RawSmtp.connect(port)
        third, refused = await RawSmtp.connect(port)
        assert (hello1.code, hello2.code, refused.code) == (220, 220, 421)
        assert await third.at_eof()
        await first.command("QUIT")
        await first.close()

        async def greeting_code() -> int:
            client, reply = await RawSmtp.connect(port)
            await client.close()
            return reply.code

        # the freed slot is given to the next client
        await eventually(greeting_code, lambda code: code == 220)
        await second.close()
        await third.close()


SMUGGLED_ENDINGS = [b"\n.\n", b"\r.\n", b"\n.\r\n", b"\r\n.\n", b"\r\n.\r"]


@pytest.mark.parametrize("ending", SMUGGLED_ENDINGS, ids=repr)
async def test_smuggled_end_of_data_does_not_make_a_second_message(
    write_config: ConfigWriter, ending: bytes
) -> None:
    smuggled = (
        b"MAIL FROM:<ceo@example.org>\r\n"
        b"RCPT TO:<" + HELPDESK.encode() + b">\r\n"
        b"DATA\r\n"
        b"From: ceo@example.org\r\nSubject: smuggled\r\n\r\nwire the money\r\n"
    )
    payload = (
        b"EHLO client.example\r\n"
        b"MAIL FROM:<alice@client.example>\r\n"
        b"RCPT TO:<" + HELPDESK.encode() + b">\r\n"
        b"DATA\r\n" + message().removesuffix(b"\r\n") + ending + smuggled + b"\r\n.\r\n"
        b"QUIT\r\n"
    )
    async with running_daemon(write_config(smtp=smtp_section(), mailboxes=MAILBOXES)) as daemon:
        client, _ = await RawSmtp.connect(smtp_port(daemon))
        await client.send(payload)  # pipelined, as an attacker would
        replies = [await client.reply() for _ in range(6)]
        await client.close()
        assert [reply.code for reply in replies] == [250, 250, 250, 354, 250, 221]
        [record] = await mail_records()
        assert record.meta["mail_from"] == "alice@client.example"
        assert b"MAIL FROM:<ceo@example.org>" in bytes(record.body)  # data, not a command
        [incident] = await eventually(daemon.incidents, lambda items: len(items) == 1)
        assert "smuggled" not in incident["title"]


async def test_reload_changes_the_accepted_recipients(
    write_config: ConfigWriter,
) -> None:
    async with running_daemon(write_config(smtp=smtp_section(), mailboxes=MAILBOXES)) as daemon:
        port = smtp_port(daemon)
        newcomer = {"name": "facilities", "address": "facilities@example.org"}
        write_config(smtp=smtp_section(), mailboxes=[*MAILBOXES, newcomer])
        assert (await daemon.services.reloader.reload()).problems == ()
        await asyncio.to_thread(
            _send, port, "a@client.example", ["facilities@example.org"], message()
        )
        [record] = await mail_records()
        assert record.source == "facilities"


async def test_stop_answers_421_to_open_sessions(write_config: ConfigWriter) -> None:
    loaded = write_config(smtp=smtp_section(), mailboxes=MAILBOXES)
    async with running_daemon(loaded) as daemon:
        idle, _ = await RawSmtp.connect(smtp_port(daemon))
        await idle.command("EHLO client.example")
    assert (await idle.reply()).code == 421
    assert await idle.at_eof()
    await idle.close()
