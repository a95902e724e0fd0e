"""PDF from the HTML report, printed by headless Chromium (``--print-to-pdf``): the
page is self-contained, so the browser fetches nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
_TIMEOUT_SECONDS = 120


class NoPdfEngine(RuntimeError):
    """No browser to print with: say which were looked for and what to install."""


def find_browser() -> str:
    configured = os.environ.get("INTAKE_GATEWAY_CHROMIUM")
    if configured:
        return configured
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise NoPdfEngine(
        "no PDF engine: none of " + ", ".join(_CANDIDATES) + " is on PATH "
        "(install chromium, e.g. apt-get install chromium, or set INTAKE_GATEWAY_CHROMIUM); "
        "--format html writes the same report"
    )


def html_to_pdf(html: str, out: Path) -> None:
    browser = find_browser()
    with tempfile.TemporaryDirectory(prefix="intake-gateway-report-") as scratch:
        page = Path(scratch) / "report.html"
        page.write_text(html, encoding="utf-8")
        command = [
            browser,
            "--headless",
            "--no-sandbox",  # root in containers; the page is our own, without script
            "--disable-gpu",
            "--no-pdf-header-footer",
            # the page has no script; without a JIT, V8 needs no memory that is both
            # writable and executable, which the hardened unit (MemoryDenyWriteExecute)
            # refuses: Chromium hangs there otherwise
            "--js-flags=--jitless",
            f"--user-data-dir={scratch}/profile",
            f"--print-to-pdf={out.resolve()}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=_TIMEOUT_SECONDS, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NoPdfEngine(f"{browser} could not print the report: {exc}") from exc
        if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            raise NoPdfEngine(
                f"{browser} could not print the report (exit {done.returncode}): "
                f"{done.stderr.strip()[-300:]}"
            )
