"""The status page in a real browser (headless chromium), end to end: a GBK mail through
the SMTP listener, the link from the answer a local SMTP server caught, the page in
Chinese; a changed link shows its 403 page. Screenshots land in artefacts/."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ConfigWriter
from tests.integration.browser import chromium, screenshot_path
from tests.integration.daemon import eventually, running_daemon
from tests.integration.fakes.mail import capturing_smtp
from tests.integration.portal_support import (
    FIXTURES,
    answers,
    link_in,
    path_of,
    portal_config,
    send_mail,
    tampered,
)

COMMENT = "还是不行 <script>window.hacked = 1</script><img src=x onerror=window.hacked=2>"


async def test_a_gbk_mail_leads_to_its_status_page_in_chinese(
    write_config: ConfigWriter, database_url: str
) -> None:
    engine = database_url.split(":", 1)[0]
    async with (
        capturing_smtp() as (capture, port),
        running_daemon(portal_config(write_config, database_url, port)) as daemon,
        chromium() as browser,
    ):
        raw = (FIXTURES / "gbk_declared_gb2312.eml").read_bytes()
        await send_mail(daemon, raw, "wang.zhe@corp.example")
        [answer] = await answers(capture)
        url = daemon.base_url + path_of(link_in(answer))
        [incident] = await daemon.incidents()

        context = await browser.new_context(locale="zh-CN", viewport={"width": 1000, "height": 700})
        tab = await context.new_page()
        response = await tab.goto(url)
        assert response is not None and response.status == 200
        assert await tab.inner_text("#status") == "新建"
        assert await tab.inner_text("#priority") == "P3 中"
        assert incident["key"] in await tab.inner_text("h1")
        assert "王喆" in await tab.inner_text("h1")
        assert "已登记" in await tab.inner_text("#timeline")
        assert await tab.get_attribute("html", "lang") == "zh-Hans"
        await tab.screenshot(path=screenshot_path(f"portal-status-zh-{engine}"), full_page=True)

        # a comment typed into the page, script and all, comes back as text
        await tab.fill("#text", COMMENT)
        await tab.click("#send")
        await tab.wait_for_selector("#notice")
        assert "已收到您的留言" in await tab.inner_text("#notice")

        async def shown() -> str:
            await tab.reload()
            return await tab.inner_text("#timeline")

        await eventually(shown, lambda text: COMMENT in text)
        assert await tab.evaluate("window.hacked === undefined")
        await tab.screenshot(path=screenshot_path(f"portal-comment-zh-{engine}"), full_page=True)

        response = await tab.goto(tampered(url))
        assert response is not None and response.status == 403
        assert "链接无效" in await tab.inner_text("#reason")
        await tab.screenshot(path=screenshot_path(f"portal-forbidden-zh-{engine}"))
        await context.close()


async def test_the_request_form_in_a_browser_refuses_a_bad_file_and_takes_a_good_one(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    engine = database_url.split(":", 1)[0]
    bad = tmp_path / "<img src=x onerror=window.hacked=1>.png"
    bad.write_bytes(b"MZ not a picture")
    good = tmp_path / "screen.png"
    good.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    async with (
        capturing_smtp() as (_, port),
        running_daemon(
            portal_config(
                write_config,
                database_url,
                port,
                catalogue=tmp_path / "catalogue.yaml",
                form={"acknowledge": {"sink": "answers"}},
            )
        ) as daemon,
        chromium() as browser,
    ):
        context = await browser.new_context(locale="zh-CN", viewport={"width": 1000, "height": 900})
        tab = await context.new_page()
        await tab.goto(f"{daemon.base_url}/portal/")
        await tab.select_option("#type", "incident")
        await tab.select_option("#service", "mail")
        await tab.fill("#name", "李娜")
        await tab.fill("#email", "li.na@corp.example")
        await tab.fill("#subject", "VPN 连接失败 <script>window.hacked=2</script>")
        await tab.fill("#text", "从今天早上开始无法连接 VPN。")
        await tab.screenshot(path=screenshot_path(f"portal-form-zh-{engine}"), full_page=True)
        await tab.set_input_files("#files", [str(bad)])
        await tab.click("#submit")
        await tab.wait_for_selector("#file-problems")
        assert "文件内容与其类型不符" in await tab.inner_text("#file-problems")
        assert "onerror" in await tab.inner_text("#file-problems")  # the name, as text
        assert await tab.evaluate("window.hacked === undefined")
        assert await daemon.incidents() == []

        await tab.set_input_files("#files", [str(good)])
        await tab.click("#submit")
        await tab.wait_for_selector("#thanks")
        assert (await tab.inner_text("#reference")).startswith("P-")
        await tab.screenshot(path=screenshot_path(f"portal-thanks-zh-{engine}"))
        [incident] = await eventually(daemon.incidents, lambda items: len(items) == 1)
        assert incident["requester"] == "li.na@corp.example"
        await context.close()
