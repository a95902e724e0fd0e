"""Times in API answers: the text SQLite gives back reads the same as the datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from storage.database import Dialect
from storage.sql import Sql
from storage.views import _time

MOMENTS = [
    datetime(2025, 1, 1, tzinfo=UTC),
    datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 12, 3, 15, 4, 5, 120000, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=8))),
]


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_stored_text_reads_as_its_datetime(moment: datetime) -> None:
    stored = Sql(Dialect.SQLITE).time(moment)
    assert _time(stored) == _time(moment)
    assert _time(moment) == moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-01T08:00:00+08:00", "2025-01-01T00:00:00Z"),  # written by another tool
        ("2025-01-01 00:00:00", "2025-01-01T00:00:00Z"),  # naive: UTC
        ("2025-01-01 00:00:00.500000+00:00", "2025-01-01T00:00:00.500000Z"),
    ],
)
def test_other_stored_forms_are_parsed(text: str, expected: str) -> None:
    assert _time(text) == expected


def test_absent_is_null() -> None:
    assert _time(None) is None
