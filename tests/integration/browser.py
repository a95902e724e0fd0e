"""A real browser for the page tests: Debian's headless chromium driven by Playwright
(no browser download). Missing chromium skips with the reason; with CI=true it fails.
Screenshots go to the git-ignored ``artefacts/`` directory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tests.conftest import require

if TYPE_CHECKING:  # imported for real once chromium is known to be there
    from playwright.async_api import Browser

CHROMIUM = "/usr/bin/chromium"
ARTEFACTS = Path(__file__).resolve().parents[2] / "artefacts"
_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    require("chromium", os.access(CHROMIUM, os.X_OK), f"install chromium ({CHROMIUM})")
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def screenshot_path(name: str) -> Path:
    ARTEFACTS.mkdir(exist_ok=True)
    return ARTEFACTS / f"{name}.png"
