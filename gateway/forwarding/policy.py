"""Delivery policy, pure and clock-driven: backoff, circuit breaker, delivery budget.

No sleeping here: each piece answers "may I now?" or "how long until I may",
and the dispatcher waits on timers and events accordingly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from enum import IntEnum


def full_jitter(
    attempt: int, *, base: float, cap: float, uniform: Callable[[], float] = random.random
) -> float:
    """Seconds before retry ``attempt`` (1, 2, ...): uniform in [0, min(cap, base * 2^(n-1))].

    Full jitter spreads the retries of many rows that failed together (a sink
    outage) over the whole window instead of bunching them at its edge.
    """
    ceiling = min(cap, base * 2.0 ** min(max(attempt - 1, 0), 32))
    return uniform() * ceiling


def retry_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None,
    uniform: Callable[[], float] = random.random,
) -> float:
    """The backoff, but never sooner than the sink asked (Retry-After)."""
    return max(retry_after or 0.0, full_jitter(attempt, base=base, cap=cap, uniform=uniform))


class CircuitState(IntEnum):
    """Also the value of the circuit-state gauge."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """closed -> open after ``failures`` failures in a row; after ``open_seconds`` half-open:
    one probe delivery; its success closes the circuit, its failure opens it again."""

    def __init__(self, failures: int, open_seconds: float, clock: Callable[[], float]) -> None:
        self._threshold = failures
        self._open_seconds = open_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at >= self._open_seconds:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def seconds_until_probe(self) -> float:
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self._open_seconds - self._clock())

    def room(self, wanted: int, in_flight: int) -> int:
        """How many deliveries may start now."""
        state = self.state
        if state is CircuitState.OPEN:
            return 0
        if state is CircuitState.HALF_OPEN:
            return 1 if in_flight == 0 and wanted > 0 else 0
        return wanted

    def succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None

    def failed(self) -> None:
        self._failures += 1
        if self.state is CircuitState.HALF_OPEN or self._failures >= self._threshold:
            self._opened_at = self._clock()


class DeliveryBudget:
    """A token bucket that can be asked how many deliveries it allows before spending."""

    def __init__(self, per_second: float, burst: int, clock: Callable[[], float]) -> None:
        self._rate = per_second
        self._capacity = float(max(burst, 1))
        self._tokens = self._capacity
        self._clock = clock
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
        self._stamp = now

    def available(self) -> int:
        self._refill()
        return int(self._tokens)

    def spend(self, count: int) -> None:
        self._refill()
        self._tokens -= count

    def seconds_until_next(self) -> float:
        self._refill()
        return 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self._rate


class Unlimited:
    """The budget of a sink without a rate limit."""

    def available(self) -> int:
        return 1 << 30

    def spend(self, count: int) -> None:
        return None

    def seconds_until_next(self) -> float:
        return 0.0
