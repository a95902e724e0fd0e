"""The console in a real browser (Debian's chromium driven by Playwright): a GBK
mail through the real SMTP listener becomes an incident an operator reads in
Chinese, acknowledges and sees forwarded; markup in the mail stays text; a
viewer cannot act; a POST without the CSRF token is refused; a stale session
goes back to the login page. Screenshots land in tests/artifacts/."""

from __future__ import annotations

import asyncio
import smtplib
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from email.header import Header
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

import pytest

from gateway.web.sessions import SessionCodec, password_stamp
from tests.conftest import ConfigWriter, require
from tests.integration.console_support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    SECRET,
    console_section,
    require_chromium,
)
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.forwarding import ticket_receiver
from tests.integration.mail_support import HELPDESK, MAILBOXES, smtp_port, smtp_section

try:
    from playwright.async_api import Browser, Dialog, Page, async_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    async_playwright = None  # type: ignore[assignment]

SUBJECT = "打印机坏了 <script>window.injected=1;alert('subject')</script>"
BODY = (
    "三楼的打印机从今天早上开始只打印空白页。\n"
    "<img src=x onerror=\"alert('body')\"><script>alert('body')</script>\n"
    "联系电话 010-12345678"
)


def _gbk_mail() -> bytes:
    mail = MIMEText(BODY, "plain", "gbk")
    mail["Subject"] = Header(SUBJECT, "gbk").encode()
    mail["From"] = "张三 <zhangsan@client.example>"
    mail["To"] = HELPDESK
    mail["Message-ID"] = "<gbk-1@client.example>"
    return mail.as_bytes()


def _send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("zhangsan@client.example", [HELPDESK], raw)


@pytest.fixture
async def tickets() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    async with ticket_receiver() as found:
        yield found


async def _log_in(page: Page, base: str, name: str) -> None:
    await page.goto(f"{base}/ui/incidents")
    assert "/ui/login" in page.url
    await page.fill("#name", name)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/ui/incidents")


async def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def _post_status(page: Page, path: str, with_token: bool) -> int:
    """A form POST from the page's own script, with or without its CSRF token."""
    status: int = await page.evaluate(
        """async ([path, withToken]) => {
            const body = new URLSearchParams();
            if (withToken) { body.set("csrf", document.body.dataset.csrf); }
            const r = await fetch(path, {method: "POST", body, redirect: "manual"});
            return r.status;
        }""",
        [path, with_token],
    )
    return status


async def _open_incident(daemon: RunningDaemon) -> str:
    await asyncio.to_thread(_send, smtp_port(daemon), _gbk_mail())
    found = await eventually(daemon.incidents, lambda items: len(items) == 1, within=20)
    return str(found[0]["key"])


async def test_console_in_a_browser(
    write_config: ConfigWriter,
    tmp_path: Path,
    tickets: tuple[str, list[dict[str, Any]]],
) -> None:
    require_chromium()
    require("playwright", async_playwright is not None, "pip install the test extra")
    url, _received = tickets
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "00-routes.yaml").write_text("settings:\n  default_routes: [tickets]\n")
    loaded = write_config(
        smtp=smtp_section(),
        mailboxes=MAILBOXES,
        sinks=[{"name": "tickets", "kind": "webhook", "url": url}],
        console=console_section(),
    )
    async with running_daemon(loaded) as daemon, async_playwright() as driver:
        key = await _open_incident(daemon)
        base = daemon.base_url
        browser: Browser = await driver.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
                viewport={"width": 1280, "height": 900},
            )
            page = await context.new_page()
            dialogs: list[str] = []

            async def dismiss(dialog: Dialog) -> None:
                dialogs.append(dialog.message)
                await dialog.dismiss()

            page.on("dialog", dismiss)
            await _log_in(page, base, "olga")
            await page.reload()  # the time-zone cookie is set now
            title = page.get_by_role("link", name=key)
            await title.wait_for()
            row = page.locator("tbody tr").first
            assert "打印机坏了 <script>" in await row.inner_text()
            assert await page.locator("h1").inner_text() == "事件"
            assert "Asia/Shanghai" in await page.locator("footer").inner_text()
            await _shot(page, "console-list")

            await title.click()
            await page.wait_for_url(f"{base}/ui/incidents/{key}")
            await page.locator("details summary").first.click()
            assert "三楼的打印机" in await page.locator("main").inner_text()
            assert "<img src=x" in await page.locator("main").inner_text()
            # nothing of the payload became markup or ran
            assert await page.locator("main script, main img").count() == 0
            assert await page.evaluate("window.injected === undefined")

            await page.click("#acknowledge")
            await page.wait_for_url(f"{base}/ui/incidents/{key}")
            assert await page.locator("#status").inner_text() == "已确认"
            timeline = await page.locator(".timeline").inner_text()
            assert "已确认" in timeline and "olga" in timeline
            forwarding = page.locator("#forwarding")
            await forwarding.wait_for()
            assert "更新" in await forwarding.inner_text()  # the acknowledgement's update row
            await _shot(page, "console-incident")

            # a silence from the mail's event: its fields come prefilled
            await page.get_by_role("link", name="静默…").first.click()
            await page.wait_for_url(f"{base}/ui/silences/new?event=*")
            assert await page.locator("input[name=value_0]").input_value() == "helpdesk"
            await page.fill("#silence-comment", "打印机维修中 <b>not bold</b>")
            await page.click("#new-silence button[type=submit]")
            await page.wait_for_url(f"{base}/ui/silences*")
            silences = await page.locator("#silences tbody").inner_text()
            assert "source=helpdesk" in silences and "olga" in silences
            assert "打印机维修中 <b>not bold</b>" in silences
            assert await page.locator("#silences b").count() == 0
            await _shot(page, "console-silences")

            # try a payload against the rules: a decision, nothing stored
            await page.get_by_role("link", name="规则").click()
            await page.select_option("#source", "generic")
            await page.fill(
                "#payload", '{"summary": "磁盘满", "resource": "db1", "severity": "critical"}'
            )
            await page.click("#try button[type=submit]")
            trial = page.locator("#trial")
            await trial.wait_for()
            assert "磁盘满" in await trial.inner_text()
            await _shot(page, "console-rules")
            assert len(await daemon.incidents()) == 1

            assert await _post_status(page, f"/ui/incidents/{key}/resolve", False) == 403
            status, body = await daemon.get_json(f"/api/v1/incidents/{key}")
            assert (status, body["status"]) == (200, "acknowledged")
            assert dialogs == []

            viewer_context = await browser.new_context(
                locale="en-US", viewport={"width": 390, "height": 844}, is_mobile=True
            )
            viewer = await viewer_context.new_page()
            viewer.on("dialog", dismiss)
            await _log_in(viewer, base, "vera")
            await viewer.goto(f"{base}/ui/incidents/{key}")
            assert await viewer.locator("#resolve").count() == 0
            # on a phone the page is no wider than the screen
            assert await viewer.evaluate("document.documentElement.scrollWidth") <= 390
            await _shot(viewer, "console-phone")
            await viewer.get_by_role("link", name="Explain").first.click()
            await viewer.wait_for_url(f"{base}/ui/events/*")
            raw = await viewer.locator("#raw").text_content() or ""
            assert "charset" in raw.lower() and "gbk" in raw.lower()  # the stored mail
            await viewer.set_viewport_size({"width": 1280, "height": 900})
            await _shot(viewer, "console-explain")
            assert await _post_status(viewer, f"/ui/incidents/{key}/resolve", True) == 403
            assert (await daemon.get_json(f"/api/v1/incidents/{key}"))[1]["status"] == (
                "acknowledged"
            )

            person = loaded.config.console.people[0]
            codec = SessionCodec(SECRET.encode(), timedelta(minutes=60), timedelta(hours=12))
            stale = codec.encode(
                codec.begin(person.name, password_stamp(person.password_hash), time.time() - 7200)
            )
            await context.add_cookies(
                [{"name": "ig_session", "value": stale, "url": f"{base}/ui/"}]
            )
            await page.goto(f"{base}/ui/incidents/{key}")
            assert "/ui/login" in page.url
            assert await page.locator("#password").count() == 1
            assert dialogs == []
        finally:
            await browser.close()
