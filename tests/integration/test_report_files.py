"""``intake-gateway report`` writes the report of a period as HTML (with its charts),
PDF, JSON and CSV from the database a daemon wrote; the HTML page is looked at in
headless Chromium (its screenshot is kept in artefacts/report.png)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from gateway.config.model import LoadedConfig
from tests.conftest import ConfigWriter, require
from tests.integration.browser import chromium, screenshot_path
from tests.integration.daemon import running_daemon
from tests.integration.test_reports import PERIOD, SLA_RULES, _load_fixture

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _report(
    loaded: LoadedConfig, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    start, end = (part.split("=")[1] for part in PERIOD.split("&"))
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "report", "--config", str(loaded.path),
         "--from", start, "--to", end, *extra],
        capture_output=True, text=True, timeout=180, cwd=REPO, env=env,
    )  # fmt: skip


@pytest.fixture
async def written(write_config: ConfigWriter, tmp_path: Path) -> LoadedConfig:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "00-sla.yaml").write_text(SLA_RULES)
    loaded = write_config()
    async with running_daemon(loaded):
        await _load_fixture()
    return loaded


async def test_json_csv_and_html_reports(written: LoadedConfig, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = _report(written, "--format", "json", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "6 incidents" in done.stdout
    report = orjson.loads(out.read_bytes())
    assert report["summary"]["incidents"] == 6 and report["summary"]["reopen_rate"] == 20.0
    assert {row["priority"] for row in report["sla"]["groups"]} == {"P1", "P3", "P4"}

    out = tmp_path / "r.csv"
    assert _report(written, "--format", "csv", "--out", str(out)).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {"key": "summary.incidents", "value": "6"}.items() <= next(
        row for row in rows if row["key"] == "summary.incidents"
    ).items()

    out = tmp_path / "r.html"
    assert _report(written, "--format", "html", "--out", str(out)).returncode == 0
    page = out.read_text()
    assert page.count("<svg") == 4  # volume, SLA, MTTR trend, offenders
    assert "Service report / 服务报告" in page and "INC-900006" in page  # the major incident
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")


async def test_pdf_and_screenshot(written: LoadedConfig, tmp_path: Path) -> None:
    require("chromium", CHROMIUM is not None, "prints the PDF and takes the screenshot")
    assert CHROMIUM is not None
    pdf = tmp_path / "r.pdf"
    done = _report(written, "--format", "pdf", "--out", str(pdf))
    assert done.returncode == 0, done.stderr
    assert pdf.read_bytes().startswith(b"%PDF-") and pdf.stat().st_size > 10_000
    html = tmp_path / "r.html"
    assert _report(written, "--format", "html", "--out", str(html)).returncode == 0
    async with chromium() as browser:
        tab = await browser.new_page(viewport={"width": 900, "height": 1200})
        failed: list[str] = []
        tab.on("requestfailed", lambda request: failed.append(request.url))
        await tab.goto(html.as_uri())
        charts = tab.locator("div.chart svg")
        assert await charts.count() == 4
        for index in range(4):
            box = await charts.nth(index).bounding_box()
            assert box is not None and box["width"] > 500 and box["height"] > 200
        assert "SLA compliance / SLA 达成率" in await tab.inner_text("body")
        shot = screenshot_path("report")
        await tab.screenshot(path=str(shot), full_page=True)
        assert failed == []  # nothing fetched: the page is self-contained
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000


async def test_no_pdf_engine_is_a_clear_error(written: LoadedConfig, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path / "empty")}
    env.pop("INTAKE_GATEWAY_CHROMIUM", None)
    done = _report(written, "--format", "pdf", "--out", str(tmp_path / "r.pdf"), env=env)
    assert done.returncode == 1
    assert "no PDF engine" in done.stderr and "--format html" in done.stderr


async def test_bad_period_exits_2(written: LoadedConfig, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "report", "--config", str(written.path),
         "--from", "2026-12-01", "--to", "2026-11-01", "--out", str(tmp_path / "x.html")],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 2 and "is after to" in done.stderr
