"""The console's PDF of a report through the real HTTP listener, printed by a Chromium
that may not map memory both writable and executable, as under the shipped systemd
unit (MemoryDenyWriteExecute=yes): the kernel's PR_SET_MDWE, which a wrapper sets
before it runs chromium, refuses the same thing. Chromium with its JIT hangs there;
the report is printed without one."""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import pytest

from tests.conftest import ConfigWriter, require
from tests.integration.console_support import (
    CHROMIUM,
    console_section,
    log_in,
    person_client,
    require_chromium,
)
from tests.integration.daemon import eventually, running_daemon

PR_SET_MDWE, PR_GET_MDWE = 65, 66  # linux/prctl.h, Linux 6.3 and later

WRAPPER = f"""#!{sys.executable}
import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl({PR_SET_MDWE}, 1, 0, 0, 0) != 0:
    sys.exit("PR_SET_MDWE refused")
os.execv({str(CHROMIUM)!r}, [{str(CHROMIUM)!r}, *sys.argv[1:]])
"""


def _mdwe_available() -> bool:
    return bool(ctypes.CDLL(None, use_errno=True).prctl(PR_GET_MDWE, 0, 0, 0, 0) >= 0)


async def test_pdf_prints_where_memory_may_not_be_writable_and_executable(
    write_config: ConfigWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_chromium()
    require("PR_SET_MDWE", _mdwe_available(), "Linux 6.3 or later")
    wrapper = tmp_path / "chromium-mdwe"
    wrapper.write_text(WRAPPER)
    wrapper.chmod(0o755)
    monkeypatch.setenv("INTAKE_GATEWAY_CHROMIUM", str(wrapper))
    async with running_daemon(write_config(console=console_section())) as daemon:
        alert = {"summary": "db1 down", "resource": "db1", "severity": "critical"}
        assert (await daemon.post_json("/webhooks/generic", alert))[0] == 202
        await eventually(daemon.incidents, lambda items: len(items) == 1)
        async with person_client(daemon.base_url) as viewer:
            assert await log_in(viewer, "vera") == 303
            async with viewer.get("/ui/reports") as page:
                assert page.status == 200
                assert "/ui/reports/report.pdf?" in await page.text()
            async with viewer.get("/ui/reports/report.pdf") as answer:
                body = await answer.read()
                assert answer.status == 200, body[:500]
                assert answer.content_type == "application/pdf"
                assert body.startswith(b"%PDF-") and len(body) > 10_000
                assert "attachment" in answer.headers["Content-Disposition"]


async def test_without_chromium_the_page_says_why_there_is_no_pdf(
    write_config: ConfigWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTAKE_GATEWAY_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    async with (
        running_daemon(write_config(console=console_section())) as daemon,
        person_client(daemon.base_url) as viewer,
    ):
        assert await log_in(viewer, "vera") == 303
        async with viewer.get("/ui/reports") as page:
            text = await page.text()
            assert page.status == 200 and 'id="no-pdf"' in text
            assert "report.pdf" not in text and "report.json?" in text
        async with viewer.get("/ui/reports/report.pdf") as answer:
            assert answer.status == 503
            assert "no PDF engine" in await answer.text()
