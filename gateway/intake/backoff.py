"""Capped, jittered exponential backoff for reconnect loops (never for request paths)."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    uniform: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, ...).

    The ceiling doubles from ``base`` up to ``cap``; the wait is between half
    the ceiling and the ceiling, so replicas that failed together do not
    retry together, and a retry never comes sooner than half the ceiling.
    """
    doublings = min(max(attempt - 1, 0), 32)  # past this the cap rules anyway
    ceiling = min(cap, base * 2.0**doublings)
    return ceiling / 2 + uniform() * ceiling / 2
