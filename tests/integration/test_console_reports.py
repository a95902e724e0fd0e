"""The service report in the console (/ui/reports) in a real browser (Debian's chromium
driven by Playwright), on both engines, on a daemon that took webhook alerts and a
mail through its real listeners: a viewer sees the figures the JSON API gives for
the same period (whole days in the browser's time zone), the charts as images the
page's Content-Security-Policy lets through, JSON/CSV (and PDF with chromium) of
the same period; bad periods and an unknown service answer 400 with the reason; the
page in Chinese on a phone is no wider than the screen and is used by keyboard.
Screenshots land in artefacts/."""

from __future__ import annotations

import asyncio
import json
import smtplib
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from gateway.reports.html import duration
from tests.conftest import ConfigWriter
from tests.integration.browser import chromium, screenshot_path
from tests.integration.console_support import PASSWORD, console_section
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.mail_support import HELPDESK, MAILBOXES, message, smtp_port, smtp_section

if TYPE_CHECKING:  # imported for real once chromium is known to be there
    from playwright.async_api import Browser, Page

ZONE = "Asia/Shanghai"
SLA = """
sla:
  targets:
    - {priority: P1, calendar: 24x7, response: 15m, resolution: 4h}
    - {priority: P3, calendar: 24x7, response: 4h, resolution: 3d}
"""
ALERTS = [
    {"name": "DiskFull", "summary": "db1 disk full", "resource": "db1", "severity": "critical"},
    {"name": "DiskFull", "summary": "db2 disk full", "resource": "db2", "severity": "warning"},
    {"name": "HighLoad", "summary": "web1 load high", "resource": "web1", "severity": "warning"},
]


def _send_mail(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("alice@client.example", [HELPDESK], message())


async def _take_intake(daemon: RunningDaemon) -> None:
    for alert in ALERTS:
        assert (await daemon.post_json("/webhooks/generic", alert))[0] == 202
    await asyncio.to_thread(_send_mail, smtp_port(daemon))
    found = await eventually(daemon.incidents, lambda items: len(items) == 4, within=20)
    first = found[-1]["key"]
    assert (await daemon.post_json(f"/api/v1/incidents/{first}/acknowledge", {}))[0] == 200
    assert (await daemon.post_json(f"/api/v1/incidents/{first}/resolve", {}))[0] == 200


async def _api(daemon: RunningDaemon, name: str) -> dict[str, Any]:
    """The API's report of the page's default period: the last 30 whole days in ZONE."""
    zone = ZoneInfo(ZONE)
    today = datetime.now(zone).date()
    low = datetime.combine(today - timedelta(days=29), time(), zone)
    high = datetime.combine(today + timedelta(days=1), time(), zone)
    query = urlencode({"from": low.isoformat(), "to": high.isoformat()})
    status, body = await daemon.get_json(f"/api/v1/reports/{name}?{query}")
    assert status == 200, body
    found: dict[str, Any] = body
    return found


async def _log_in(page: Page, base: str, name: str) -> None:
    await page.goto(f"{base}/ui/reports")
    await page.fill("#name", name)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/ui/reports")
    await page.reload()  # the time-zone cookie is set now


async def _text(page: Page, selector: str) -> str:
    return (await page.locator(selector).inner_text()).strip()


async def _fetch(page: Page, href: str) -> dict[str, Any]:
    answer: dict[str, Any] = await page.evaluate(
        """async (href) => {
            const r = await fetch(href);
            const bytes = new Uint8Array(await r.arrayBuffer());
            return {status: r.status, type: r.headers.get("content-type"),
                    head: new TextDecoder().decode(bytes.slice(0, 5)),
                    text: new TextDecoder().decode(bytes)};
        }""",
        href,
    )
    return answer


async def _figures_match_the_api(page: Page, daemon: RunningDaemon) -> None:
    summary, noise = await _api(daemon, "summary"), await _api(daemon, "noise")
    assert summary["incidents"] == 4
    assert [row["response_compliance"] for row in summary["sla"] if row["priority"] == "P1"] == [
        100.0
    ]
    assert await _text(page, "#figure-incidents") == str(summary["incidents"])
    assert await _text(page, "#figure-major") == str(summary["major"])
    assert await _text(page, "#figure-breaches") == str(summary["breaches"])
    assert await _text(page, "#figure-mttr") == duration(summary["mttr_median_seconds"])
    funnel = (("intake", "intake_records"), ("events", "events"), ("incidents", "incidents"))
    for name, key in funnel:
        assert await _text(page, f"#funnel-{name}") == str(noise[key]), name
    assert noise["intake_records"] == 4


async def _charts_show(page: Page) -> None:
    charts = page.locator(".report .chart img")
    assert await charts.count() == 4
    for index in range(4):
        chart = charts.nth(index)
        assert await chart.evaluate("img => img.complete && img.naturalWidth > 0")
        box = await chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
        assert (await chart.get_attribute("alt") or "").strip()


async def _shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(screenshot_path(name)), full_page=True)


async def _downloads_are_the_same_period(page: Page, daemon: RunningDaemon) -> None:
    links = page.locator("#downloads")
    got = await _fetch(page, await links.get_by_text("JSON").get_attribute("href") or "")
    assert got["status"] == 200 and "application/json" in got["type"]
    summary = {k: v for k, v in (await _api(daemon, "summary")).items() if k != "report"}
    assert json.loads(got["text"])["summary"] == summary
    got = await _fetch(page, await links.get_by_text("CSV").get_attribute("href") or "")
    assert got["status"] == 200 and "summary.incidents" in got["text"]
    if await links.get_by_text("PDF").count():  # chromium prints it
        got = await _fetch(page, await links.get_by_text("PDF").get_attribute("href") or "")
        assert got["status"] == 200 and got["head"] == "%PDF-"
    else:
        assert await page.locator("#no-pdf").count() == 1


async def _bad_periods_say_why(page: Page, base: str) -> None:
    for query, reason in (
        ("from=2026-12-05&to=2026-11-01", "is after the end"),
        ("from=2024-01-01&to=2026-01-01", "at most 400 days"),
        ("service=no-such-service", "No such service: no-such-service."),
    ):
        answer = await page.goto(f"{base}/ui/reports?{query}")
        assert answer is not None and answer.status == 400, query
        assert reason in await _text(page, "#report-problem")
        assert await page.locator(".report").count() == 0
        assert "Traceback" not in await page.content()


async def _by_keyboard(page: Page, base: str) -> None:
    """Choose a priority and send the form without a mouse."""
    await page.goto(f"{base}/ui/reports")
    await page.focus("#report-priority")
    await page.keyboard.press("ArrowDown")  # P1
    await page.focus("#report-form button[type=submit]")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**priority=P1**")
    assert "priority / 优先级: P1" in await _text(page, ".report div.meta")


async def _in_chinese_on_a_phone(
    browser: Browser, daemon: RunningDaemon, engine: str, blocked: list[str]
) -> None:
    phone = await browser.new_context(
        locale="zh-CN", timezone_id=ZONE, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    tab = await phone.new_page()
    tab.on("console", lambda msg: blocked.append(msg.text) if "Security" in msg.text else None)
    await _log_in(tab, daemon.base_url, "olga")
    assert await _text(tab, "main > h1") == "报告"
    await tab.get_by_role("link", name="本月").click()
    await tab.wait_for_url("**from=*")
    await tab.get_by_role("link", name="最近 30 天").click()
    await tab.wait_for_url("**from=*")
    await _figures_match_the_api(tab, daemon)
    await _charts_show(tab)
    assert await tab.evaluate("document.documentElement.scrollWidth") <= 390
    await _shot(tab, f"console-reports-phone-{engine}")
    await tab.set_viewport_size({"width": 1280, "height": 900})
    await _shot(tab, f"console-reports-zh-{engine}")
    answer = await tab.goto(f"{daemon.base_url}/ui/reports?from=2026-12-05&to=2026-11-01")
    assert answer is not None and answer.status == 400
    reason = await _text(tab, "#report-problem")
    assert reason == "开始日期（2026-12-05）晚于结束日期（2026-11-01）。"


async def test_report_page_in_a_browser(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "00-sla.yaml").write_text(SLA)
    loaded = write_config(
        database_url, smtp=smtp_section(), mailboxes=MAILBOXES, console=console_section()
    )
    engine = "postgres" if database_url.startswith("postgres") else "sqlite"
    async with running_daemon(loaded) as daemon, chromium() as browser:
        await _take_intake(daemon)
        base = daemon.base_url
        context = await browser.new_context(
            locale="en-US", timezone_id=ZONE, viewport={"width": 1280, "height": 900}
        )
        page = await context.new_page()
        blocked: list[str] = []  # what the Content-Security-Policy refused
        page.on("console", lambda msg: blocked.append(msg.text) if "Security" in msg.text else None)
        await _log_in(page, base, "vera")  # a viewer
        await page.get_by_role("link", name="Reports").first.click()
        await page.wait_for_url(f"{base}/ui/reports")
        assert await _text(page, "main > h1") == "Reports"
        await _figures_match_the_api(page, daemon)
        await _charts_show(page)
        assert "DiskFull" in await _text(page, ".report")  # top offenders by alert name
        await _downloads_are_the_same_period(page, daemon)
        await _shot(page, f"console-reports-en-{engine}")
        await _bad_periods_say_why(page, base)
        await _by_keyboard(page, base)
        await _in_chinese_on_a_phone(browser, daemon, engine, blocked)
        assert blocked == []
