"""A whole service report: every section for one period, as one JSON-ready document
(the CLI's json form, and what the HTML, PDF and mail forms are drawn from)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import gateway
from gateway.reports.engine import ReportEngine, period_json
from storage import Period

# what the compliance chart holds the figures against, in percent
TARGET_COMPLIANCE = 95.0


async def full_report(engine: ReportEngine, period: Period, now: datetime) -> dict[str, Any]:
    return {
        "generated_at": now.isoformat().replace("+00:00", "Z"),
        "generator": f"intake-gateway {gateway.__version__}",
        "period": period_json(period),
        "target_compliance": TARGET_COMPLIANCE,
        "summary": await engine.summary(period),
        "volumes": await engine.volumes(period),
        "mttr": await engine.mttr(period),
        "sla": await engine.sla(period),
        "lifecycle": await engine.lifecycle(period),
        "offenders": await engine.offenders(period),
        "noise": await engine.noise(period),
    }
