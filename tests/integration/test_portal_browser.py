"""The status page in a real browser (headless chromium), end to end: a GBK mail through
the SMTP listener, the link from the answer a local SMTP server caught, the page in
Chinese; a changed link shows its 403 page. Screenshots land in artefacts/."""

from __future__ import annotations

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

        response = await tab.goto(url[:-3] + "abc")
        assert response is not None and response.status == 403
        assert "链接无效" in await tab.inner_text("#reason")
        await tab.screenshot(path=screenshot_path(f"portal-forbidden-zh-{engine}"))
        await context.close()
