"""Requester notifications and the satisfaction survey, end to end on both engines:
status changes of an incident opened by a GBK mail reach its requester by mail (with
the status page link), the resolution brings one survey whose rating links, clicked in
headless chromium, store the rating once however often they are clicked; a scanner's
plain GET stores nothing; an incident opened by monitoring mail is never mailed."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from storage import models
from tests.conftest import ConfigWriter
from tests.integration.browser import chromium, screenshot_path
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.fakes.mail import capturing_smtp
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
NOTIFY = {"sink": "answers", "changes": ["acknowledged", "resolved"], "survey": True}


async def _act(daemon: RunningDaemon, incident: dict[str, Any], action: str) -> None:
    status, body = await daemon.post_json(
        f"/api/v1/incidents/{incident['id']}/{action}", {"author": "op", "comment": "done"}
    )
    assert status == 200, body


async def _incident(daemon: RunningDaemon) -> dict[str, Any]:
    [item] = await daemon.incidents()
    return item


async def test_changes_and_the_survey_reach_the_requester_and_a_rating_is_stored_once(
    write_config: ConfigWriter, database_url: str
) -> None:
    engine = database_url.split(":", 1)[0]
    async with (
        capturing_smtp() as (capture, port),
        running_daemon(portal_config(write_config, database_url, port, notify=NOTIFY)) as daemon,
    ):
        await send_mail(daemon, (FIXTURES / "gbk_declared_gb2312.eml").read_bytes(), REQUESTER)
        [ack] = await answers(capture)
        incident = await _incident(daemon)
        await _act(daemon, incident, "acknowledge")
        mails = await answers(capture, 2)
        notice = mails[1]
        assert notice["To"] == REQUESTER
        assert notice["Auto-Submitted"] == "auto-generated"
        assert "taken in hand" in notice.get_content()
        assert "/portal/status/" in link_in(notice) and "/portal/status/" in link_in(ack)

        await _act(daemon, incident, "resolve")
        mails = await answers(capture, 4)
        subjects = sorted(str(mail["Subject"]) for mail in mails[2:])
        assert any("How did we do?" in subject for subject in subjects), subjects
        [survey] = [mail for mail in mails if "How did we do?" in str(mail["Subject"])]
        links = re.findall(r"https?://\S+/rate/[1-5]", survey.get_content())
        assert [link[-1] for link in links] == ["1", "2", "3", "4", "5"]
        await asyncio.sleep(1)  # more rounds of the job: nothing is sent twice
        assert len(capture.messages) == 4

        # a mail scanner fetching the links stores nothing
        for link in links:
            assert (await page(daemon, path_of(link)))[0] == 200
        assert (await _incident(daemon))["rating"] is None

        async with chromium() as browser:
            context = await browser.new_context(locale="zh-CN")
            tab = await context.new_page()
            four = daemon.base_url + path_of(links[3])
            await tab.goto(four)
            await tab.wait_for_selector("#rating")
            assert "4/5" in await tab.inner_text("#rating")
            await tab.screenshot(path=screenshot_path(f"portal-rated-zh-{engine}"), full_page=True)
            # clicked again, and another score: the first stays
            await tab.goto(four)
            await tab.wait_for_selector("#rating")
            await tab.goto(daemon.base_url + path_of(links[1]))
            await tab.wait_for_selector("#rating")
            assert "4/5" in await tab.inner_text("#rating")
            await context.close()
        # two posts at once (a double click): still one
        token_path = path_of(links[0]).rsplit("/rate/", 1)[0]
        answers_ = await asyncio.gather(
            post_form(daemon, f"{token_path}/rate/1", {}),
            post_form(daemon, f"{token_path}/rate/5", {}),
        )
        assert [status for status, _, _ in answers_] == [303, 303]
        rated = await _incident(daemon)
        assert rated["rating"] == 4 and rated["rated_at"]
        entries = await models.TimelineEntry.filter(incident_id=rated["id"], kind="rated").all()
        assert [(entry.text, entry.visibility) for entry in entries] == [("4/5", "public")]
        # and in the reports
        status, summary = await daemon.get_json("/api/v1/reports/summary")
        assert status == 200, summary
        assert summary["satisfaction"] == {
            "ratings": 1,
            "average": 4.0,
            "by_score": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0},
        }


async def test_an_incident_opened_by_monitoring_mail_is_never_mailed(
    write_config: ConfigWriter, database_url: str
) -> None:
    async with (
        capturing_smtp() as (capture, port),
        running_daemon(portal_config(write_config, database_url, port, notify=NOTIFY)) as daemon,
    ):
        raw = (FIXTURES / "nagios_problem.eml").read_bytes()
        await send_mail(daemon, raw, "nagios@monitor.corp.example")
        [incident] = await eventually(daemon.incidents, lambda items: len(items) == 1)
        assert incident["requester"] == "nagios@monitor.corp.example"
        await _act(daemon, incident, "acknowledge")
        await _act(daemon, incident, "resolve")
        await asyncio.sleep(1.5)  # several rounds of the job
        assert capture.messages == []
        rows = await models.OutboxRow.filter(action__in=["notify", "survey"]).count()
        assert rows == 0
