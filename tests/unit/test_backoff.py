"""Reconnect backoff: doubling, capped, jittered within [ceiling/2, ceiling]."""

from __future__ import annotations

import pytest

from gateway.intake.backoff import backoff_delay


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [
        (1, 0.5, 1.0),
        (2, 1.0, 2.0),
        (3, 2.0, 4.0),
        (6, 16.0, 32.0),
        (7, 30.0, 60.0),
        (500, 30.0, 60.0),
    ],
)
def test_delay_doubles_up_to_the_cap(attempt: int, low: float, high: float) -> None:
    assert backoff_delay(attempt, base=1.0, cap=60.0, uniform=lambda: 0.0) == low
    assert backoff_delay(attempt, base=1.0, cap=60.0, uniform=lambda: 1.0) == high


def test_jitter_spreads_retries() -> None:
    def delay(draw: float) -> float:
        return backoff_delay(4, base=1.0, cap=60.0, uniform=lambda: draw)

    delays = {delay(0.1), delay(0.5), delay(0.9)}
    assert len(delays) == 3 and all(4.0 <= value <= 8.0 for value in delays)
