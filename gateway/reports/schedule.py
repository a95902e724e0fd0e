"""The monthly service report, mailed through an email sink (``reports.schedule``).

Once a minute each replica asks whether this month's sending time has passed; the
first to claim the month (a row only one replica can insert) builds the report of
the month before, in the schedule's time zone, and mails it. A failed send gives
the claim up, so the next minute tries again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from core.errors import GatewayError
from gateway.background import background
from gateway.reports.config import ReportSchedule
from gateway.reports.document import full_report
from gateway.reports.engine import ReportEngine
from gateway.reports.mail import report_mail
from gateway.runtime import Runtime
from sinks.config import EmailSinkConfig
from sinks.registry import email_transport
from storage import Database, Period, claim_once, give_up_claim

log = structlog.get_logger(__name__)
_INTERVAL_SECONDS = 60.0


def last_month(schedule: ReportSchedule, now: datetime) -> tuple[str, Period] | None:
    """The month to report on and its bounds, once this month's sending time is past."""
    zone = ZoneInfo(schedule.timezone)
    local = now.astimezone(zone)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    hour, minute = (int(part) for part in schedule.at.split(":"))
    if local < month_start.replace(day=schedule.day, hour=hour, minute=minute):
        return None
    start = (month_start - timedelta(days=1)).replace(day=1)
    return start.strftime("%Y-%m"), Period(start, month_start, schedule.service)


class MonthlyReport:
    def __init__(
        self,
        db: Database,
        engine: ReportEngine,
        runtime: Callable[[], Runtime],
        clock: Callable[[], datetime],
        owner: str,
    ) -> None:
        self._db = db
        self._engine = engine
        self._runtime = runtime
        self._clock = clock
        self._owner = owner

    async def tick(self) -> str | None:
        """Send the report of last month if it is due and nobody has; the month sent."""
        config = self._runtime().loaded.config
        schedule = config.reports.schedule
        if schedule is None:
            return None
        now = self._clock()
        due = last_month(schedule, now)
        if due is None:
            return None
        month, period = due
        sink = next(item for item in config.sinks if item.name == schedule.sink)
        assert isinstance(sink, EmailSinkConfig)  # checked when the config loaded
        claim = f"report:{month}:{schedule.sink}"
        if not await claim_once(self._db, claim, self._owner):
            return None
        try:
            report = await full_report(self._engine, period, now)
            recipients = list(schedule.to or sink.to)
            message = report_mail(
                report, month, sink.from_address, recipients, sink.message_id_domain
            )
            await email_transport(sink).send(message, sink.from_address, recipients)
        except GatewayError as exc:
            await give_up_claim(self._db, claim, self._owner)
            log.warning("monthly_report_failed", month=month, sink=sink.name, error=str(exc))
            return None
        log.info("monthly_report_sent", month=month, sink=sink.name, to=len(recipients))
        return month

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except GatewayError as exc:  # the database: the next minute tries again
                log.warning("monthly_report_failed", error=str(exc))
            await asyncio.sleep(_INTERVAL_SECONDS)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with background(self._loop(), "monthly-report"):
            yield
