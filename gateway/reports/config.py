"""``reports:`` in gateway.yaml: the monthly service report mailed through an email
sink."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from core.validation import Strict

_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class ReportSchedule(Strict):
    """The report of the month before, mailed once a month (by one replica)."""

    sink: str = Field(description="an email sink: its relay, From: and To: are used")
    day: int = Field(default=1, ge=1, le=28, description="day of the month it is sent")
    at: str = Field(default="06:00", description="time of day it is sent, HH:MM")
    timezone: str = Field(
        default="UTC", description="time zone of day, at and of the month's bounds"
    )
    to: tuple[str, ...] = Field(
        default=(), description="recipients instead of the sink's (e.g. the service managers)"
    )
    service: str | None = Field(default=None, description="only this service's incidents")

    @field_validator("at")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError(f"at must be HH:MM, got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class ReportsConfig(Strict):
    """Service reports: the API and CLI need nothing here; a schedule mails them."""

    schedule: ReportSchedule | None = Field(
        default=None, description="the monthly report by mail, in English and Chinese"
    )


def schedule_problems(reports: ReportsConfig, sinks: Sequence[Any]) -> list[str]:
    """The schedule must name an email sink of the config."""
    schedule = reports.schedule
    if schedule is None:
        return []
    kinds = {sink.name: sink.kind for sink in sinks}
    if kinds.get(schedule.sink) == "email":
        return []
    emails = ", ".join(name for name, kind in kinds.items() if kind == "email") or "none"
    what = "is not defined" if schedule.sink not in kinds else f"is a {kinds[schedule.sink]} sink"
    return [
        f"reports.schedule.sink: '{schedule.sink}' {what}; name an email sink "
        f"(email sinks: {emails})"
    ]
