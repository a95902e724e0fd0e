"""The report page's form: whole days in the viewer's time zone (``from`` and ``to``
both included), a service and a priority, read into the period the report engine
counts (``to`` exclusive: midnight after the last day). What cannot be reported on
is refused with the reason in the viewer's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from urllib.parse import urlencode

from multidict import MultiMapping

from gateway.reports.period import MAX_DAYS, PRIORITIES, BadPeriod, read_period
from gateway.web.i18n import Translator
from storage import Period

DEFAULT_DAYS = 30


class FormProblem(ValueError):
    """The reason a form cannot be reported on, in the viewer's language."""


@dataclass(frozen=True, slots=True)
class ReportForm:
    start: str
    end: str
    service: str = ""
    priority: str = ""

    def query(self, **changes: str) -> str:
        """The form as a query string (empty fields left out), with ``changes``."""
        values = {
            "from": self.start,
            "to": self.end,
            "service": self.service,
            "priority": self.priority,
            **changes,
        }
        return urlencode([(name, value) for name, value in values.items() if value])


def quick_choices(today: date) -> list[tuple[str, date, date]]:
    """(label, first day, last day) of the periods offered with one click."""
    first = today.replace(day=1)
    last_month_end = first - timedelta(days=1)
    return [
        ("Last 30 days", today - timedelta(days=DEFAULT_DAYS - 1), today),
        ("This month", first, today),
        ("Last month", last_month_end.replace(day=1), last_month_end),
        ("Last 90 days", today - timedelta(days=89), today),
    ]


def _field(query: MultiMapping[str], name: str, limit: int) -> str:
    return (query.get(name) or "").strip()[:limit]


def _day(raw: str, label: str, translate: Translator) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise FormProblem(
            translate("{field} must be a date such as 2026-11-01.", field=translate(label))
        ) from None


def read_form(query: MultiMapping[str], today: date) -> ReportForm:
    """The form as typed, the last 30 days up to ``today`` where from or to is empty."""
    return ReportForm(
        start=_field(query, "from", 10) or (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
        end=_field(query, "to", 10) or today.isoformat(),
        service=_field(query, "service", 256),
        priority=_field(query, "priority", 2),
    )


def period_of(form: ReportForm, zone: tzinfo, now: datetime, translate: Translator) -> Period:
    """The period the form names; FormProblem with the reason when there is none."""
    first, last = _day(form.start, "From", translate), _day(form.end, "To", translate)
    if first > last:
        raise FormProblem(
            translate("The start ({first}) is after the end ({last}).", first=first, last=last)
        )
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise FormProblem(
            translate(
                "The period spans {days} days; a report covers at most {most} days.",
                days=days,
                most=MAX_DAYS,
            )
        )
    if form.priority and form.priority not in PRIORITIES:
        raise FormProblem(translate("Priority must be one of P1, P2, P3, P4."))
    low = datetime.combine(first, time(), zone)
    high = datetime.combine(last + timedelta(days=1), time(), zone)
    try:
        return read_period(
            low.isoformat(), high.isoformat(), form.service, form.priority or None, now
        )
    except (BadPeriod, OverflowError) as exc:  # the ends of the calendar
        raise FormProblem(str(exc)) from None
