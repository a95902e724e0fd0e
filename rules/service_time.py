"""Service time between many pairs of moments, fast: a calendar's service intervals
over a span are laid out once with the service seconds before each, so each
question is two binary searches instead of a walk over the days between."""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta

from rules.calendars import AlwaysOpen, Calendar, WorkingHours


class ServiceClock:
    """Seconds of ``calendar``'s service time between two UNIX times."""

    def __init__(self, calendar: Calendar, start: datetime, end: datetime) -> None:
        self.calendar = calendar
        self._always = not isinstance(calendar, WorkingHours)
        self._opens: list[float] = []
        self._closes: list[float] = []
        self._before: list[float] = []  # service seconds before each interval opens
        self._start, self._end = start.timestamp(), end.timestamp()
        if isinstance(calendar, WorkingHours):
            total = 0.0
            for opens, closes in calendar.intervals(start, end):
                self._opens.append(opens.timestamp())
                self._closes.append(closes.timestamp())
                self._before.append(total)
                total += closes.timestamp() - opens.timestamp()

    def _upto(self, moment: float) -> float:
        """Service seconds from the span's start up to ``moment`` (inside the span)."""
        index = bisect_right(self._opens, moment) - 1
        if index < 0:
            return 0.0
        return self._before[index] + min(moment, self._closes[index]) - self._opens[index]

    def between(self, start: float, end: float) -> float:
        if end <= start:
            return 0.0
        if self._always:
            return end - start
        if start < self._start or end > self._end:  # outside the laid-out span: walk
            return self.calendar.elapsed(_time(start), _time(end)).total_seconds()
        return self._upto(end) - self._upto(start)


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


ALWAYS = AlwaysOpen()
# how far past a period's end incidents opened in it are still counted fast
MARGIN = timedelta(days=120)
