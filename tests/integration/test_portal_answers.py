"""The requester answers on the status page, end to end on both engines: a comment is
stored as a portal record, becomes a comment on the incident's timeline (public, shown
as text even with markup in it) and a follow-up to the ticket's sink; "solved" resolves
the incident with the requester as author; a refused link stores nothing."""

from __future__ import annotations

from typing import Any

import aiohttp
from markupsafe import escape

from storage import models
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.fakes.mail import capturing_smtp
from tests.integration.fakes.receivers import Receiver
from tests.integration.portal_support import (
    FIXTURES,
    answers,
    link_in,
    page,
    path_of,
    portal_config,
    post_form,
    send_mail,
    tampered,
)

REQUESTER = "wang.zhe@corp.example"
COMMENT = '仍然无法登录 <script>alert("x")</script> & <b>bold</b>'


async def _incident(daemon: RunningDaemon) -> dict[str, Any]:
    [item] = await daemon.incidents()
    status, body = await daemon.get_json(f"/api/v1/incidents/{item['id']}")
    assert status == 200
    return dict(body)


async def test_a_comment_from_the_page_reaches_the_timeline_and_the_tickets_sink(
    write_config: ConfigWriter, database_url: str
) -> None:
    tickets = Receiver()
    await tickets.start()
    try:
        async with (
            capturing_smtp() as (capture, port),
            running_daemon(
                portal_config(write_config, database_url, port, tickets_url=tickets.url)
            ) as daemon,
        ):
            await send_mail(daemon, (FIXTURES / "gbk_declared_gb2312.eml").read_bytes(), REQUESTER)
            [answer] = await answers(capture)
            path = path_of(link_in(answer))
            await eventually(lambda: _async(tickets.bodies()), lambda bodies: len(bodies) == 1)

            status, location, _ = await post_form(daemon, f"{path}/comment", {"text": COMMENT})
            assert status == 303 and location.endswith("?sent=comment")
            # the same form sent again (a double click) is stored once
            assert (await post_form(daemon, f"{path}/comment", {"text": COMMENT}))[0] == 303

            def commented(incident: dict[str, Any]) -> bool:
                return any(entry["kind"] == "comment" for entry in incident["timeline"])

            incident = await eventually(lambda: _incident(daemon), commented)
            [comment] = [entry for entry in incident["timeline"] if entry["kind"] == "comment"]
            assert comment["text"] == COMMENT
            assert comment["author"] == REQUESTER
            assert comment["visibility"] == "public"
            records = await models.IntakeRecordRow.filter(channel="portal").all()
            assert [record.state for record in records] == ["processed"]

            def followed_up(bodies: list[Any]) -> bool:
                return any(COMMENT in str(body) for body in bodies)

            await eventually(lambda: _async(tickets.bodies()), followed_up, within=15)

            status, text = await page(daemon, path + "?sent=comment", "zh-CN")
            assert status == 200
            assert str(escape(COMMENT)) in text
            assert "<script>alert" not in text
            assert "已收到您的留言" in text
    finally:
        await tickets.stop()


async def _async(value: Any) -> Any:
    return value


async def test_solved_resolves_with_the_requester_as_author_and_bad_posts_store_nothing(
    write_config: ConfigWriter, database_url: str
) -> None:
    async with (
        capturing_smtp() as (capture, port),
        running_daemon(portal_config(write_config, database_url, port)) as daemon,
    ):
        await send_mail(daemon, (FIXTURES / "gbk_declared_gb2312.eml").read_bytes(), REQUESTER)
        [answer] = await answers(capture)
        path = path_of(link_in(answer))

        assert (await post_form(daemon, f"{path}/comment", {"text": "   "}))[0] == 400
        token = path.rsplit("/", 1)[1]
        status, _, text = await post_form(
            daemon, f"/portal/status/{tampered(token)}/comment", {"text": "hi"}
        )
        assert status == 403 and "not valid" in text
        assert await models.IntakeRecordRow.filter(channel="portal").count() == 0

        status, location, _ = await post_form(daemon, f"{path}/solved", {})
        assert status == 303 and location.endswith("?sent=solved")
        incident = await _incident(daemon)
        assert incident["status"] == "resolved"
        [resolved] = [entry for entry in incident["timeline"] if entry["kind"] == "resolved"]
        assert resolved["author"] == f"requester:{REQUESTER}"
        assert resolved["visibility"] == "public"
        status, text = await page(daemon, path + "?sent=solved")
        assert ">Resolved<" in text and "marked solved" in text
        assert 'id="solved"' not in text  # no button once it is solved


async def test_a_message_may_carry_files_checked_like_the_forms(
    write_config: ConfigWriter, database_url: str
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    name = "<svg onload=alert(1)>.png"
    async with (
        capturing_smtp() as (capture, port),
        running_daemon(portal_config(write_config, database_url, port)) as daemon,
    ):
        await send_mail(daemon, (FIXTURES / "gbk_declared_gb2312.eml").read_bytes(), REQUESTER)
        [answer] = await answers(capture)
        path = path_of(link_in(answer))

        def form(content: bytes) -> aiohttp.FormData:
            data = aiohttp.FormData()
            data.add_field("text", "截图见附件")
            data.add_field("files", content, filename=name, content_type="image/png")
            return data

        async with daemon.http.post(f"{path}/comment", data=form(b"not a png")) as refused:
            assert refused.status == 400
            assert "content does not match" in await refused.text()
        assert await models.IntakeRecordRow.filter(channel="portal").count() == 0
        async with daemon.http.post(
            f"{path}/comment", data=form(png), allow_redirects=False
        ) as stored:
            assert stored.status == 303

        def commented(incident: dict[str, Any]) -> bool:
            return any(entry["kind"] == "comment" for entry in incident["timeline"])

        incident = await eventually(lambda: _incident(daemon), commented)
        [comment] = [entry for entry in incident["timeline"] if entry["kind"] == "comment"]
        [attachment] = comment["data"]["attachments"]
        assert (attachment["filename"], attachment["size"]) == (name, len(png))
        status, text = await page(daemon, path)
        assert status == 200
        assert str(escape(name)) in text and "<svg onload" not in text


async def test_a_database_outage_is_a_page_saying_nothing_was_recorded(
    write_config: ConfigWriter, postgres_url: str
) -> None:
    from tests.integration.test_http import _set_connections

    database = postgres_url.rsplit("/", 1)[1]
    async with capturing_smtp() as (capture, port):
        # a read or a commit gives up within a second while the server refuses sessions
        storage = {"connect_timeout_seconds": 1}
        loaded = portal_config(write_config, postgres_url, port, storage=storage)
        async with running_daemon(loaded) as daemon:
            await send_mail(daemon, (FIXTURES / "gbk_declared_gb2312.eml").read_bytes(), REQUESTER)
            [answer] = await answers(capture)
            path = path_of(link_in(answer))
            await _set_connections(database, allowed=False)
            try:
                status, _, text = await post_form(daemon, f"{path}/comment", {"text": "还在吗"})
                assert status == 503 and "nothing was recorded" in text, text[:300]
                assert "还在吗" in text  # the message is kept in the form
                status, _, text = await post_form(daemon, f"{path}/solved", {})
                assert status == 503 and "nothing was recorded" in text
            finally:
                await _set_connections(database, allowed=True)
            status, _, _ = await post_form(daemon, f"{path}/comment", {"text": "还在吗"})
            assert status == 303
