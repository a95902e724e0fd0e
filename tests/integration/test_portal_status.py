"""The requester's status page, end to end on both engines: a GBK mail through the real
SMTP listener opens an incident, the answer caught by a local SMTP server carries a
signed link, and the page behind it shows the public face in Chinese or English;
a changed, expired or foreign link gets 403 with a page that says why."""

from __future__ import annotations

import html
from datetime import timedelta

from gateway.app import utc_now
from tests.conftest import ConfigWriter
from tests.integration.daemon import running_daemon
from tests.integration.fakes.mail import capturing_smtp
from tests.integration.portal_support import (
    FIXTURES,
    KEY_NEW,
    KEY_OLD,
    answers,
    link_in,
    page,
    path_of,
    portal_config,
    send_mail,
    signer,
    tampered,
)

GBK_MAIL = (FIXTURES / "gbk_declared_gb2312.eml").read_bytes()
REQUESTER = "wang.zhe@corp.example"


async def test_the_answer_links_to_a_status_page_in_the_requesters_language(
    write_config: ConfigWriter, database_url: str
) -> None:
    async with (
        capturing_smtp() as (capture, port),
        running_daemon(portal_config(write_config, database_url, port)) as daemon,
    ):
        await send_mail(daemon, GBK_MAIL, REQUESTER)
        [answer] = await answers(capture)
        link = link_in(answer)
        assert link.startswith("https://help.example.org/portal/status/")
        [incident] = await daemon.incidents()
        # an operator's note on a status change is internal: the change shows, the note not
        status, _ = await daemon.post_json(
            f"/api/v1/incidents/{incident['id']}/acknowledge",
            {"author": "op", "comment": "internal: the mail server's disk is full"},
        )
        assert status == 200

        status, text = await page(daemon, path_of(link), "zh-CN,zh;q=0.9")
        assert status == 200, text
        assert incident["key"] in text
        assert html.escape(incident["title"]) in text
        assert "王喆" in incident["title"]
        assert ">处理中<" in text  # acknowledged, in Chinese
        assert "P3 中" in text
        assert "已登记" in text and "已受理" in text  # the public timeline
        assert "disk is full" not in text

        status, text = await page(daemon, path_of(link) + "?lang=en", "zh-CN")
        assert status == 200 and ">In progress<" in text and "Taken in hand" in text


async def test_a_changed_an_expired_or_a_foreign_link_is_refused_with_a_page(
    write_config: ConfigWriter, database_url: str
) -> None:
    async with (
        capturing_smtp() as (capture, port),
        running_daemon(portal_config(write_config, database_url, port, link_days=7)) as daemon,
    ):
        await send_mail(daemon, GBK_MAIL, REQUESTER)
        [answer] = await answers(capture)
        path = path_of(link_in(answer))
        [incident] = await daemon.incidents()
        assert (await page(daemon, path))[0] == 200

        token = path.rsplit("/", 1)[1]
        flipped = tampered(token)
        for bad in (flipped, token[:-4], token + "x", "not-a-token", token.replace(".", "", 1)):
            status, text = await page(daemon, f"/portal/status/{bad}")
            assert status == 403, bad
            assert "The link is not valid" in text

        # signed eight days ago with a 7-day lifetime: expired; six days ago: still good
        old = signer([KEY_NEW], utc_now() - timedelta(days=8), days=7)
        status, text = await page(
            daemon, f"/portal/status/{old.token(incident['id'], incident['key'])}", "zh"
        )
        assert status == 403 and "链接已过期" in text
        recent = signer([KEY_NEW], utc_now() - timedelta(days=6), days=7)
        status, _ = await page(
            daemon, f"/portal/status/{recent.token(incident['id'], incident['key'])}"
        )
        assert status == 200

        # rotation: a link signed with the older key still opens; a key not configured not
        rotated = signer([KEY_OLD], utc_now())
        assert (await page(daemon, path_of(rotated.url(incident))))[0] == 200
        foreign = signer(["someone-elses-key-0123456789abcdef0123"], utc_now())
        assert (await page(daemon, path_of(foreign.url(incident))))[0] == 403
        # a genuine token for an incident under another key (id reused): gone
        wrong = signer([KEY_NEW], utc_now()).token(incident["id"], "INC-999999")
        status, text = await page(daemon, f"/portal/status/{wrong}")
        assert status == 403 and "no longer kept" in text
