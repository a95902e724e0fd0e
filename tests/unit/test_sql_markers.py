"""Statements for PostgreSQL: every ``?`` becomes ``$n``, however many there are."""

from __future__ import annotations

from storage.database import Dialect
from storage.sql import Sql


def test_markers_are_numbered_past_ten_thousand() -> None:
    # a 10,000-alert payload reads its events with one marker per fingerprint
    statement = f"SELECT 1 WHERE x IN ({', '.join('?' for _ in range(32_767))})"
    numbered = Sql(Dialect.POSTGRES)(statement)
    assert numbered.count("$") == 32_767
    assert numbered.endswith("$32766, $32767)")
    assert Sql(Dialect.SQLITE)(statement) == statement
