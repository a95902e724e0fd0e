"""The monthly service report as one mail, in English and Chinese: a short text of the
key figures, the HTML report as the HTML part (charts inline), and the figures as CSV."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from gateway.reports.csvout import report_csv
from gateway.reports.html import duration, percent, render_html


def _text(report: dict[str, Any], month: str) -> str:
    s = report["summary"]
    lines = [
        f"Monthly service report {month} / {month} 月度服务报告",
        "",
        f"Incidents / 事件: {s['incidents']}   Major / 重大事件: {s['major']}",
        f"MTTA median / 响应时间中位数: {duration(s['mtta_median_seconds'])}",
        f"MTTR median / 解决时间中位数: {duration(s['mttr_median_seconds'])}",
        f"Reopen rate / 重开率: {percent(s['reopen_rate'])}",
        f"SLA breaches / SLA 违约: {s['breaches']}",
        "",
        "SLA compliance (response, resolution) / SLA 达成率 (响应, 解决):",
    ]
    for row in s["sla"]:
        lines.append(
            f"  {row['priority']}: {percent(row['response_compliance'])}, "
            f"{percent(row['resolution_compliance'])}"
        )
    lines += [
        "",
        "The whole report with charts is the HTML part of this mail; the figures are "
        "attached as CSV.",
        "完整报告(含图表)见本邮件的 HTML 部分;数据见 CSV 附件。",
    ]
    return "\n".join(lines) + "\n"


def report_mail(
    report: dict[str, Any], month: str, sender: str, recipients: list[str], domain: str
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"Service report {month} / {month} 服务报告"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid("report", domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_text(report, month), charset="utf-8")
    message.add_alternative(render_html(report), subtype="html", charset="utf-8")
    message.add_attachment(
        report_csv(report), maintype="text", subtype="csv", filename=f"service-report-{month}.csv"
    )
    return message
