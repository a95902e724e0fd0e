"""One sender's bad bytes never fail another sender's commit.

Intake is group-committed: many senders share one INSERT. A value no
database takes (an undecodable byte in EHLO, MAIL FROM or a delivery-id
header) is made storable before it joins a batch, its exact bytes kept; a
record the database refuses all the same fails alone, with a permanent
answer, while the rest of its batch is committed.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import pytest

from storage import models
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.mail_support import MAILBOXES, smtp_port, smtp_section
from tests.integration.poison import mail, raw_mail, raw_post, refusing

GOOD_CLIENTS = 20
STORM_SECONDS = 2.5
MARKER = b"POISON-PILL"


def _config(write_config: ConfigWriter, database_url: str) -> Any:
    return write_config(
        database_url,
        smtp=smtp_section(),
        mailboxes=MAILBOXES,
        integrations=[{"name": "generic", "kind": "generic", "delivery_id_header": "X-Delivery"}],
    )


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


async def test_undecodable_envelope_bytes_are_stored_exactly(
    write_config: ConfigWriter, database_url: str
) -> None:
    async with running_daemon(_config(write_config, database_url)) as daemon:
        port = smtp_port(daemon)
        reply = await raw_mail(
            port, helo=b"r\xff", mail_from=b"a\xfe@example.org", data=mail("one", "1@x")
        )
        assert reply.code == 250, reply
        first = await raw_post(
            daemon, "/webhooks/generic", b'{"name":"n","resource":"r"}', b"X-Delivery: abc\xff\r\n"
        )
        again = await raw_post(
            daemon, "/webhooks/generic", b'{"name":"m","resource":"r"}', b"X-Delivery: abc\xff\r\n"
        )
        other = await raw_post(
            daemon, "/webhooks/generic", b'{"name":"o","resource":"r"}', b"X-Delivery: abc\xfe\r\n"
        )
        assert first[0] == again[0] == other[0] == 202, (first, again, other)
        # the exact bytes are the delivery's identity: the same bytes are a re-delivery
        assert again[1]["duplicate"] is True and again[1]["intake_id"] == first[1]["intake_id"]
        assert other[1]["duplicate"] is False

        smtp = await models.IntakeRecordRow.get(channel="smtp")
        assert smtp.meta["helo"] == "r\ufffd" and smtp.meta["helo_base64"] == _b64(b"r\xff")
        assert smtp.meta["mail_from_base64"] == _b64(b"a\xfe@example.org")
        http = await models.IntakeRecordRow.get(id=first[1]["intake_id"])
        assert http.meta["delivery_id"] == "abc\ufffd"
        assert http.meta["delivery_id_base64"] == _b64(b"abc\xff")
        # and the pipeline processes them like any other record
        await eventually(
            lambda: models.IntakeRecordRow.filter(state="processed").count(),
            lambda done: done == 3,
        )


async def _good_sender(daemon: RunningDaemon, number: int, until: float) -> list[int]:
    statuses: list[int] = []
    sent = 0
    while time.monotonic() < until:
        sent += 1
        body = {"name": f"good {number}-{sent}", "resource": f"host{number}"}
        async with daemon.http.post("/webhooks/generic", json=body) as response:
            statuses.append(response.status)
            await response.read()
    return statuses


async def _poison_mail(port: int, refused: bool, until: float) -> list[int]:
    codes: list[int] = []
    while time.monotonic() < until:
        number = len(codes)
        body = MARKER if refused else b"plain"
        data = mail(f"poison {number}", f"p{number}@poison.test", body)
        reply = await raw_mail(port, helo=b"r\xff", mail_from=b"a\xff@example.org", data=data)
        codes.append(reply.code)
    return codes


async def _poison_posts(daemon: RunningDaemon, refused: bool, until: float) -> list[int]:
    statuses: list[int] = []
    while time.monotonic() < until:
        number = len(statuses)
        name = MARKER.decode() if refused else "poison"
        body = f'{{"name":"{name} {number}","resource":"r"}}'.encode()
        status, answer = await raw_post(
            daemon, "/webhooks/generic", body, b"X-Delivery: d%d\xff\r\n" % number
        )
        if status != 202:
            assert answer["error"], answer  # a JSON answer with a reason
        statuses.append(status)
    return statuses


@pytest.mark.parametrize("poison", ["undecodable", "refused"])
async def test_poison_beside_good_intake_fails_nobody_else(
    write_config: ConfigWriter, database_url: str, poison: str
) -> None:
    """Twenty webhook clients, and beside them an SMTP client and an HTTP client
    sending undecodable envelope bytes, or records the database refuses."""
    refused = poison == "refused"
    async with running_daemon(_config(write_config, database_url)) as daemon:
        async with refusing(daemon, "intake_records", "body", MARKER):
            until = time.monotonic() + STORM_SECONDS
            good, mails, posts = await asyncio.gather(
                asyncio.gather(*(_good_sender(daemon, n, until) for n in range(GOOD_CLIENTS))),
                _poison_mail(smtp_port(daemon), refused, until),
                _poison_posts(daemon, refused, until),
            )
        statuses = [status for client in good for status in client]
        collateral = [status for status in statuses if status != 202]
        assert len(statuses) > 200 and mails and posts
        assert collateral == [], f"{len(collateral)} of {len(statuses)} good requests failed"
        if refused:  # a permanent answer for the record at fault, and only for it
            assert set(mails) == {554} and set(posts) == {422}, (mails, posts)
        else:
            assert set(mails) == {250} and set(posts) == {202}, (mails, posts)
        stored = await models.IntakeRecordRow.all().count()
        expected = len(statuses) + (0 if refused else len(mails) + len(posts))
        assert stored == expected
