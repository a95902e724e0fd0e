"""Merging a duplicate from the console, through the real HTTP listener: an operator
merges from the incident's page (on both engines, and once in a real browser, with a
screenshot in tests/artifacts/); a viewer, a form without its CSRF token, an unknown
survivor, the incident itself and a chain are refused and change nothing."""

from __future__ import annotations

from storage import audit
from tests.conftest import ConfigWriter, require
from tests.integration.console_support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    console_section,
    log_in,
    page_csrf,
    person_client,
    require_chromium,
)
from tests.integration.daemon import RunningDaemon, eventually, running_daemon

try:
    from playwright.async_api import async_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    async_playwright = None  # type: ignore[assignment]


async def _three_incidents(daemon: RunningDaemon) -> None:
    """INC-000001 to INC-000003, for db1 to db3."""
    for count, host in enumerate(("db1", "db2", "db3"), start=1):
        await _incident_on(daemon, host, count)


async def _incident_on(daemon: RunningDaemon, host: str, count: int) -> None:
    alert = {"name": "disk full", "resource": host, "severity": "critical"}
    assert (await daemon.post_json("/webhooks/generic", alert))[0] == 202
    await eventually(daemon.incidents, lambda items: len(items) == count)


async def test_an_operator_merges_a_duplicate_and_refusals_change_nothing(
    write_config: ConfigWriter, database_url: str
) -> None:
    loaded = write_config(database_url, console=console_section())
    async with running_daemon(loaded) as daemon:
        await _three_incidents(daemon)
        merge = "/ui/incidents/INC-000001/merge"
        async with person_client(daemon.base_url) as viewer:
            assert await log_in(viewer, "vera") == 303
            token = await page_csrf(viewer, "/ui/incidents/INC-000001")
            async with viewer.post(
                merge, data={"csrf": token, "into": "INC-000002"}, allow_redirects=False
            ) as response:
                assert response.status == 403
        async with person_client(daemon.base_url) as operator:
            assert await log_in(operator, "olga") == 303
            page = operator.get("/ui/incidents/INC-000001")
            async with page as response:
                assert 'id="merge-into"' in await response.text()
            token = await page_csrf(operator, "/ui/incidents/INC-000001")
            refusals = [
                ({"into": "INC-000002"}, 403, ""),  # no CSRF token
                ({"csrf": "forged", "into": "INC-000002"}, 403, ""),
                ({"csrf": token, "into": ""}, 400, "merge into an incident"),
                ({"csrf": token, "into": "INC-999999"}, 400, "no incident INC-999999"),
                ({"csrf": token, "into": "INC-000001"}, 409, "cannot be merged into itself"),
            ]
            for form, status, reason in refusals:
                async with operator.post(merge, data=form, allow_redirects=False) as response:
                    assert response.status == status, form
                    assert reason in await response.text()
            assert [item["status"] for item in await daemon.incidents()] == ["new"] * 3

            async with operator.post(
                merge,
                data={"csrf": token, "into": "inc-000002", "comment": "same disk"},
                allow_redirects=False,
            ) as response:
                assert response.status == 303
                assert response.headers["Location"] == "/ui/incidents/INC-000001"
            async with operator.get("/ui/incidents/INC-000001") as response:
                shown = await response.text()
            assert 'id="merged-into"><a href="/ui/incidents/INC-000002">INC-000002</a>' in shown
            assert 'id="merge-into"' not in shown  # a closed incident merges no more
            # a chain: merging into the duplicate names the survivor instead
            async with operator.post(
                "/ui/incidents/INC-000003/merge",
                data={"csrf": token, "into": "INC-000001"},
                allow_redirects=False,
            ) as response:
                assert response.status == 409
                assert "INC-000001 is merged into INC-000002: merge into INC-000002" in (
                    await response.text()
                )
        states = {item["key"]: item["status"] for item in await daemon.incidents()}
        assert states == {"INC-000001": "closed", "INC-000002": "new", "INC-000003": "new"}
        status, survivor = await daemon.get_json("/api/v1/incidents/INC-000002")
        assert status == 200 and survivor["event_count"] == 2
        assert [(e["kind"], e["author"]) for e in survivor["timeline"][-1:]] == [
            ("merged_in", "olga")
        ]
        rows = [r for r in await audit.entries(daemon.services.db) if r["action"].endswith("ed")]
        assert [(r["action"], r["actor"], r["via"], r["subject"]) for r in rows] == [
            ("incident.merged", "olga", "console@127.0.0.1", "INC-000001")
        ]


async def test_merge_from_the_incident_page_in_a_browser(write_config: ConfigWriter) -> None:
    require_chromium()
    require("playwright", async_playwright is not None, "pip install the test extra")
    loaded = write_config(console=console_section())
    async with running_daemon(loaded) as daemon, async_playwright() as driver:
        await _three_incidents(daemon)
        base = daemon.base_url
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900}
            )
            page = await context.new_page()
            await page.goto(f"{base}/ui/incidents")
            await page.fill("#name", "olga")
            await page.fill("#password", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/ui/incidents")
            await page.goto(f"{base}/ui/incidents/INC-000003")
            await page.fill("#merge-into", "INC-000002")
            await page.click("#merge button[type=submit]")
            await page.wait_for_url(f"{base}/ui/incidents/INC-000003")
            assert await page.locator("#status").inner_text() == "已关闭"
            link = page.locator("#merged-into a")
            assert await link.inner_text() == "INC-000002"
            assert "已合并到其他事件" in await page.locator(".timeline").inner_text()
            assert await page.locator("#merge-into").count() == 0
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "console-merge.png"), full_page=True)
            await link.click()
            await page.wait_for_url(f"{base}/ui/incidents/INC-000002")
            assert "INC-000003" in await page.locator(".timeline").inner_text()
        finally:
            await browser.close()
        status, body = await daemon.get_json("/api/v1/incidents/INC-000003")
        assert (status, body["merged_into"]) == (200, "INC-000002")
