"""The monthly service report mailed through an email sink (``reports.schedule``), on
both engines: once its time this month has passed, last month's report goes out once
(in English and Chinese, charts in the HTML part, figures attached as CSV), however
often the job asks; a schedule naming no email sink is a config error."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import ConfigError
from gateway.reports.config import ReportSchedule
from gateway.reports.schedule import last_month
from tests.conftest import ConfigWriter
from tests.integration.daemon import eventually, running_daemon
from tests.integration.fakes.mail import Capture, capturing_smtp
from tests.integration.test_reports import SLA_RULES, _load_fixture


def _mail_sink(port: int) -> dict[str, object]:
    return {
        "name": "managers",
        "kind": "email",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": "gateway@example.org",
        "to": ["desk@example.org"],
    }


async def test_last_months_report_is_mailed_once(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "00-sla.yaml").write_text(SLA_RULES)
    async with capturing_smtp() as (capture, port):
        schedule = {"day": 1, "at": "00:00", "timezone": "Asia/Shanghai", "sink": "managers",
                    "to": ["manager@example.org", "cio@example.org"]}  # fmt: skip
        loaded = write_config(
            database_url, sinks=[_mail_sink(port)], reports={"schedule": schedule}
        )
        async with running_daemon(loaded) as daemon:
            await _load_fixture()
            job = daemon.services.monthly_report
            await eventually(lambda: _count(capture), lambda count: count == 1)
            assert await job.tick() is None  # claimed already: never twice
    [message] = capture.messages
    month = last_month(ReportSchedule.model_validate(schedule), datetime.now(UTC))
    assert month is not None
    assert message["Subject"] == f"Service report {month[0]} / {month[0]} 服务报告"
    assert message["Auto-Submitted"] == "auto-generated"
    assert capture.envelopes[0] == (
        "gateway@example.org",
        ["manager@example.org", "cio@example.org"],
    )
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "月度服务报告" in text.get_content() and "Incidents / 事件" in text.get_content()
    assert html.get_content().count("<svg") == 4
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"service-report-{month[0]}.csv"


async def _count(capture: Capture) -> int:
    return len(capture.messages)


def test_month_bounds_follow_the_schedules_time_zone() -> None:
    schedule = ReportSchedule(sink="m", day=2, at="08:00", timezone="Asia/Shanghai")
    assert last_month(schedule, datetime(2026, 12, 1, 23, 59, tzinfo=UTC)) is None  # 2nd 07:59
    month, period = last_month(schedule, datetime(2026, 12, 2, 0, 0, tzinfo=UTC)) or ("", None)
    assert month == "2026-11" and period is not None
    assert period.start == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)


def test_a_schedule_without_an_email_sink_is_refused(write_config: ConfigWriter) -> None:
    with pytest.raises(ConfigError, match=r"reports\.schedule\.sink: 'chat' is not defined"):
        write_config(reports={"schedule": {"sink": "chat"}})
