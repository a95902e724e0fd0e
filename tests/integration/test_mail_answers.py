"""Mail into incidents, end to end on both engines through the real SMTP listener: answers
to requesters (out through an email sink to a local SMTP server) and their loop protection,
bounces linked to their incident, attachments listed on the timeline."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from storage import models
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.fakes.mail import Capture, capturing_smtp
from tests.integration.mail_support import (
    ALERTS,
    HELPDESK,
    MAILBOXES,
    message,
    smtp_port,
    smtp_section,
)

GATEWAY = "helpdesk-bot@example.org"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def _config(write_config: ConfigWriter, database_url: str, port: int) -> Any:
    return write_config(
        database_url,
        smtp=smtp_section(),
        mailboxes=[
            {
                "name": "helpdesk",
                "address": HELPDESK,
                "acknowledge": {"sink": "answers", "max_per_sender": 2},
            },
            {"name": "alerts", "address": ALERTS},
        ],
        sinks=[
            {
                "name": "answers",
                "kind": "email",
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "from_address": GATEWAY,
                "to": ["nobody@example.org"],
                "message_id_domain": "gw.example.org",
                "timeout_seconds": 5,
                "retry": {"base_seconds": 0.05, "cap_seconds": 0.1},
            }
        ],
    )


async def _send(daemon: RunningDaemon, raw: bytes, sender: str, to: str = HELPDESK) -> None:
    def send() -> None:
        with smtplib.SMTP("127.0.0.1", smtp_port(daemon), timeout=10) as client:
            client.sendmail(sender, [to], raw)

    await asyncio.to_thread(send)


async def _settled() -> None:
    """Every mail processed and every forwarding row finished."""

    async def pending() -> int:
        records = await models.IntakeRecordRow.filter(state="pending").count()
        rows = await models.OutboxRow.filter(state="pending").count()
        return records + rows

    await eventually(pending, lambda count: count == 0, within=15)


def _answers_to(capture: Capture) -> Sequence[tuple[str, str]]:
    return [(str(m["To"]), str(m["In-Reply-To"])) for m in capture.messages]


async def test_a_new_mail_is_answered_to_its_sender_and_loops_are_not(
    write_config: ConfigWriter, database_url: str
) -> None:
    async with (
        capturing_smtp() as (capture, port),
        running_daemon(_config(write_config, database_url, port)) as daemon,
    ):
        alice = "alice@client.example"
        await _send(daemon, message(message_id="<m1@client.example>"), alice)
        [answer] = await eventually(
            lambda: asyncio.sleep(0, capture.messages), lambda found: len(found) == 1
        )
        [incident] = await daemon.incidents()
        assert answer["To"] == alice
        assert capture.envelopes[0] == (GATEWAY, [alice])
        assert answer["In-Reply-To"] == "<m1@client.example>"
        assert answer["Auto-Submitted"] == "auto-replied"
        assert f"[{incident['key']}]" in answer["Subject"]
        assert incident["key"] in answer.get_content()
        assert str(answer["Message-ID"]).endswith("@gw.example.org>")

        automatic = [
            # an out-of-office answer (RFC 3834) and a list mail: never answered
            message(
                "Automatic reply: away",
                message_id="<ooo@client.example>",
                sender="bob@client.example",
                extra_headers=["Auto-Submitted: auto-replied"],
            ),
            message(
                "Newsletter",
                message_id="<news@client.example>",
                sender="news@client.example",
                extra_headers=["Precedence: bulk"],
            ),
            # the gateway's own address, and a Message-ID the gateway made
            message("From myself", message_id="<self@client.example>", sender=GATEWAY),
            message(
                "Forwarded back",
                message_id="<INC-000001.abc@gw.example.org>",
                sender="carol@client.example",
            ),
        ]
        for raw, sender in zip(
            automatic,
            ["bob@client.example", "news@client.example", GATEWAY, "carol@client.example"],
            strict=True,
        ):
            await _send(daemon, raw, sender)
        # no answer from a mailbox that does not acknowledge
        alerts_mail = message("Disk full", message_id="<a1@client.example>", sender="d@x.org")
        await _send(daemon, alerts_mail, "d@x.org", to=ALERTS)
        # two answers per sender within the window: the third mail is not answered
        await _send(daemon, message("Second", message_id="<m2@client.example>"), alice)
        await _send(daemon, message("Third", message_id="<m3@client.example>"), alice)
        await _settled()
        await asyncio.sleep(0.5)  # nothing more on its way
        assert _answers_to(capture) == [
            (alice, "<m1@client.example>"),
            (alice, "<m2@client.example>"),
        ]

        # the requester answers the answer without the key: it threads back as a comment
        reply = message(
            "Re: thanks",
            message_id="<r1@client.example>",
            extra_headers=[f"In-Reply-To: {answer['Message-ID']}"],
        )
        before = len(await daemon.incidents())
        await _send(daemon, reply, alice)
        await _settled()
        assert len(await daemon.incidents()) == before
        assert len(capture.messages) == 2
        comments = await models.TimelineEntry.filter(
            incident_id=incident["id"], kind="comment"
        ).count()
        assert comments == 1

        # the answer bounces: the report is linked to the incident, never answered
        await _send(daemon, _bounce_of(str(answer["Message-ID"])), "")
        await _settled()
        assert len(await daemon.incidents()) == before
        assert len(capture.messages) == 2
        bounces = await models.TimelineEntry.filter(incident_id=incident["id"], kind="bounce")
        assert len(bounces) == 1 and str(answer["Message-ID"]).strip("<>") in bounces[0].text


def _bounce_of(message_id: str) -> bytes:
    """An RFC 3464 delivery status report for ``message_id``, as a mail server writes it."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.client.example>\r\n"
        f"To: {GATEWAY}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn1@mx.client.example>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
        "\r\n--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.client.example\r\n\r\n"
        "Final-Recipient: rfc822; alice@client.example\r\nAction: failed\r\n"
        "Status: 5.1.1\r\n\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\nSubject: Re: Printer\r\n\r\n--b--\r\n"
    ).encode()


async def test_the_incident_timeline_lists_what_the_mail_carried(
    write_config: ConfigWriter, database_url: str
) -> None:
    raw = (FIXTURES / "attachments.eml").read_bytes()
    loaded = write_config(database_url, smtp=smtp_section(), mailboxes=MAILBOXES)
    async with running_daemon(loaded) as daemon:
        await _send(daemon, raw, "anna.berg@corp.example")
        [incident] = await eventually(daemon.incidents, lambda items: len(items) == 1)
        status, detail = await daemon.get_json(f"/api/v1/incidents/{incident['id']}")
        assert status == 200
        [opened] = [entry for entry in detail["timeline"] if entry["kind"] == "opened"]
        assert opened["data"]["message_id"] == "att-1@corp.example"
        attached = {item["filename"]: item for item in opened["data"]["attachments"]}
        assert {"shot.png", "报错截图.pdf"} <= set(attached)
        assert attached["shot.png"]["inline"] is True
        assert attached["报错截图.pdf"]["content_type"] == "application/pdf"
        assert all(len(item["sha256"]) == 64 and item["size"] > 0 for item in attached.values())


async def test_a_reply_that_lost_its_key_and_references_finds_its_incident_by_subject(
    write_config: ConfigWriter, database_url: str
) -> None:
    loaded = write_config(database_url, smtp=smtp_section(), mailboxes=MAILBOXES)
    async with running_daemon(loaded) as daemon:
        alice, bob = "alice@client.example", "bob@client.example"
        await _send(daemon, message("VPN drops", message_id="<v1@client.example>"), alice)
        [incident] = await eventually(daemon.incidents, lambda items: len(items) == 1)
        # a mobile client's reply: no key in the subject, no In-Reply-To, no References
        reply = message("RE: VPN drops", message_id="<v2@client.example>", body="still")
        await _send(daemon, reply, alice)
        # the same subject from someone else is their own matter
        other = message("Re: VPN drops", message_id="<v3@client.example>", sender=bob)
        await _send(daemon, other, bob)
        await _settled()
        incidents = await daemon.incidents()
        assert len(incidents) == 2
        comments = await models.TimelineEntry.filter(incident_id=incident["id"], kind="comment")
        assert [entry.text.strip() for entry in comments] == ["still"]
