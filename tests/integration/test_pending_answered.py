"""The requester's answer ends ``pending``, through the real SMTP and portal listeners on
both engines: the incident goes back to the status work had reached (acknowledged, or
new when nobody took it in hand), its SLA clocks go on with the due times moved by the
wait, the timeline shows it to the requester, and the ticket's sink gets the status
change. An operator answering on the thread, or the requester's auto-reply, leaves it
waiting, as does an operator's comment in the console."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from storage import models
from tests.conftest import ConfigWriter
from tests.integration.console_support import console_section, log_in, page_csrf, person_client
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.fakes.mail import Capture, capturing_smtp
from tests.integration.fakes.receivers import Receiver
from tests.integration.mail_support import HELPDESK
from tests.integration.portal_support import (
    FIXTURES,
    answers,
    link_in,
    page,
    path_of,
    portal_config,
    post_form,
    send_mail,
)

REQUESTER = "wang.zhe@corp.example"
OPERATOR = "li.na@corp.example"
PATH = "/api/v1/incidents/INC-000001"
SLA = """
sla:
  targets:
    - {priority: P1, calendar: 24x7, response: 1h, resolution: 8h}
    - {priority: P2, calendar: 24x7, response: 1h, resolution: 8h}
    - {priority: P3, calendar: 24x7, response: 1h, resolution: 8h}
    - {priority: P4, calendar: 24x7, response: 1h, resolution: 8h}
"""
WAIT = 1.5


def _mail(sender: str, subject: str, body: str, number: int, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = HELPDESK
    message["Subject"] = subject
    message["Message-ID"] = f"<answer-{number}@corp.example>"
    message["In-Reply-To"] = "<gbk-1@corp.example>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return bytes(message)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _incident(daemon: RunningDaemon) -> dict[str, Any]:
    status, body = await daemon.get_json(PATH)
    assert status == 200
    return dict(body)


async def _processed(count: int) -> None:
    async def states() -> list[str]:
        return [row.state for row in await models.IntakeRecordRow.all()]

    await eventually(states, lambda found: found.count("processed") >= count, within=15)


async def _tickets(receiver: Receiver) -> list[Any]:
    return receiver.bodies()


async def _started(daemon: RunningDaemon, tickets: Receiver, acknowledge: bool) -> dict[str, Any]:
    """The requester's mail opened INC-000001; an operator (took it in hand and) asked
    the requester a question: the incident waits. The status page path and the SLA."""
    await send_mail(daemon, (FIXTURES / "gbk_declared_gb2312.eml").read_bytes(), REQUESTER)
    await eventually(lambda: _tickets(tickets), lambda bodies: len(bodies) == 1, within=15)
    if acknowledge:
        assert (await daemon.post_json(f"{PATH}/acknowledge", {"author": "alice"}))[0] == 200
    body = {"author": "alice", "comment": "which browser do you use?"}
    status, waiting = await daemon.post_json(f"{PATH}/pending", body)
    assert status == 200 and waiting["status"] == "pending"
    return dict(waiting["sla"])


def _check_resumed(incident: dict[str, Any], before: dict[str, Any], to: str) -> None:
    assert incident["status"] == to and incident["pending_since"] is None
    for clock in ("response_due", "resolution_due") if to == "new" else ("resolution_due",):
        moved = _time(incident["sla"][clock]) - _time(before[clock])
        assert WAIT <= moved.total_seconds() < 30, (clock, moved)
    [entry] = [item for item in incident["timeline"] if item["kind"] == "resumed"]
    assert entry["visibility"] == "public" and entry["author"] == REQUESTER
    assert entry["data"]["from"] == "pending" and entry["data"]["to"] == to
    assert entry["data"]["paused_seconds"] >= WAIT
    kinds = [item["kind"] for item in incident["timeline"]]
    assert kinds[kinds.index("resumed") - 1] == "comment"  # the answer, then work goes on


def _status_change(bodies: list[Any], to: str) -> bool:
    return any(
        isinstance(body, dict) and (body.get("changes") or {}).get("status") == ["pending", to]
        for body in bodies
    )


@asynccontextmanager
async def _desk(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[RunningDaemon, Capture, Receiver]]:
    """The daemon with SLA targets, mail answers captured, tickets sent to a receiver."""
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "00-sla.yaml").write_text(SLA)
    tickets = Receiver()
    await tickets.start()
    try:
        async with capturing_smtp() as (capture, port):
            loaded = portal_config(
                write_config,
                database_url,
                port,
                tickets_url=tickets.url,
                console=console_section(),
            )
            async with running_daemon(loaded) as daemon:
                yield daemon, capture, tickets
    finally:
        await tickets.stop()


async def test_a_mail_reply_of_the_requester_ends_the_wait(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    async with _desk(write_config, database_url, tmp_path) as (daemon, _, tickets):
        before = await _started(daemon, tickets, acknowledge=True)
        await asyncio.sleep(WAIT)
        subject = "Re: [INC-000001] login"
        # an operator on the thread, and the requester's out-of-office: still waiting
        await send_mail(daemon, _mail(OPERATOR, subject, "I asked them", 1), OPERATOR)
        away = _mail(
            REQUESTER, f"Automatic reply: {subject}", "away", 2, Auto_Submitted="auto-replied"
        )
        await send_mail(daemon, away, REQUESTER)
        await _processed(3)
        # and an operator's comment in the console
        async with person_client(daemon.base_url) as client:
            assert await log_in(client, "olga") == 303
            page = "/ui/incidents/INC-000001"
            form = {"csrf": await page_csrf(client, page), "comment": "asked by mail"}
            async with client.post(f"{page}/comment", data=form, allow_redirects=False) as done:
                assert done.status == 303
        waiting = await _incident(daemon)
        assert waiting["status"] == "pending", waiting["timeline"]
        comments = [item for item in waiting["timeline"] if item["kind"] == "comment"]
        assert [item["author"] for item in comments] == [OPERATOR, "olga"]

        await send_mail(daemon, _mail(REQUESTER, subject, "Firefox 128", 3), REQUESTER)
        incident = await eventually(
            lambda: _incident(daemon), lambda found: found["status"] != "pending", within=15
        )
        _check_resumed(incident, before, "acknowledged")
        await eventually(
            lambda: _tickets(tickets),
            lambda bodies: _status_change(bodies, "acknowledged"),
            within=15,
        )


async def test_a_status_page_comment_ends_the_wait_of_an_incident_nobody_took(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    async with _desk(write_config, database_url, tmp_path) as (daemon, capture, tickets):
        before = await _started(daemon, tickets, acknowledge=False)
        [answer] = await answers(capture)
        path = path_of(link_in(answer))
        await asyncio.sleep(WAIT)
        status, _, _ = await post_form(daemon, f"{path}/comment", {"text": "Edge, latest"})
        assert status == 303
        incident = await eventually(
            lambda: _incident(daemon), lambda found: found["status"] != "pending", within=15
        )
        _check_resumed(incident, before, "new")
        await eventually(
            lambda: _tickets(tickets), lambda bodies: _status_change(bodies, "new"), within=15
        )


async def test_the_requester_confirms_a_waiting_incident_solved_from_the_status_page(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    """Waiting on the requester is the moment they are most likely to say "it works now":
    the page offers it, and the confirmation resolves the incident."""
    async with _desk(write_config, database_url, tmp_path) as (daemon, capture, tickets):
        await _started(daemon, tickets, acknowledge=True)
        [answer] = await answers(capture)
        path = path_of(link_in(answer))
        status, text = await page(daemon, path)
        assert status == 200 and 'id="solved-form"' in text
        status, _, _ = await post_form(daemon, f"{path}/solved", {})
        assert status == 303
        incident = await _incident(daemon)
        assert incident["status"] == "resolved"
        [entry] = [item for item in incident["timeline"] if item["kind"] == "resolved"]
        assert entry["author"].startswith("requester:")
