"""Requester notifications wait out the quiet hours, end to end on both engines: a
status change during the quiet period is held back (no mail, no outbox row) and is
mailed once the period ends. The daemon takes no injected clock, so the quiet hours
are set around the current time and end at the next minute (at most about 80 s)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage import models
from tests.conftest import ConfigWriter
from tests.integration.daemon import running_daemon
from tests.integration.fakes.mail import capturing_smtp
from tests.integration.portal_support import FIXTURES, answers, portal_config, send_mail

REQUESTER = "wang.zhe@corp.example"
MARGIN = timedelta(seconds=20)  # time to open, acknowledge and watch, inside the period


def _quiet_period(now: datetime) -> tuple[str, str, datetime]:
    """Quiet hours (start, end) that hold ``now`` and end at the first whole minute
    at least ``MARGIN`` away; and that end as a time."""
    end = (now + MARGIN + timedelta(minutes=1)).replace(second=0, microsecond=0)
    start = end - timedelta(hours=1)
    return start.strftime("%H:%M"), end.strftime("%H:%M"), end


async def test_a_notice_in_quiet_hours_is_sent_when_they_end(
    write_config: ConfigWriter, database_url: str
) -> None:
    start, end, ends_at = _quiet_period(datetime.now(UTC))
    notify = {
        "sink": "answers",
        "changes": ["acknowledged"],
        "quiet_hours": {"start": start, "end": end, "timezone": "UTC"},
    }
    async with (
        capturing_smtp() as (capture, port),
        running_daemon(portal_config(write_config, database_url, port, notify=notify)) as daemon,
    ):
        await send_mail(daemon, (FIXTURES / "gbk_declared_gb2312.eml").read_bytes(), REQUESTER)
        [answer] = await answers(capture)  # the acknowledgement of the mail is not a notice
        [incident] = await daemon.incidents()
        path = f"/api/v1/incidents/{incident['id']}/acknowledge"
        assert (await daemon.post_json(path, {"author": "op"}))[0] == 200
        await asyncio.sleep(2)  # ten rounds of the notification job
        assert len(capture.messages) == 1
        assert await models.OutboxRow.filter(action="notify").count() == 0
        assert datetime.now(UTC) < ends_at, "the test ran past its quiet period"

        wait = (ends_at - datetime.now(UTC)).total_seconds() + 15
        mails = await answers(capture, 2, within=wait)
        sent_at = datetime.now(UTC)
        notice = mails[1]
        assert sent_at >= ends_at
        assert notice["To"] == REQUESTER and incident["key"] in str(notice["Subject"])
        assert notice["Auto-Submitted"] == "auto-generated"
        assert "taken in hand" in notice.get_content()
        assert answer["Message-ID"] != notice["Message-ID"]
        await asyncio.sleep(1)  # later rounds send nothing twice
        assert len(capture.messages) == 2
