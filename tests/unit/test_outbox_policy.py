"""Delivery policy: backoff with full jitter, Retry-After, circuit breaker, delivery budget,
and how merged rows become one delivery."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.outbox import OutboxAction
from gateway.forwarding.merge import merge
from gateway.forwarding.policy import (
    CircuitBreaker,
    CircuitState,
    DeliveryBudget,
    full_jitter,
    retry_delay,
)
from sinks.http import failure_for, retry_after
from storage.outbox import Claim, OutboxItem

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 2.0), (2, 4.0), (3, 8.0), (8, 256.0), (9, 300.0), (500, 300.0)]
)
def test_full_jitter_spans_zero_to_a_doubling_capped_ceiling(attempt: int, ceiling: float) -> None:
    assert full_jitter(attempt, base=2, cap=300, uniform=lambda: 0.0) == 0.0
    assert full_jitter(attempt, base=2, cap=300, uniform=lambda: 1.0) == ceiling


def test_retry_after_wins_over_a_shorter_backoff() -> None:
    assert retry_delay(1, base=2, cap=300, retry_after=120, uniform=lambda: 0.5) == 120
    assert retry_delay(9, base=2, cap=300, retry_after=1, uniform=lambda: 1.0) == 300


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("Mon, 02 Mar 2026 09:01:00 GMT", 60.0),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_header_forms(header: str | None, seconds: float | None) -> None:
    assert retry_after(header, now=T0) == seconds


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (500, True),
        (503, True),
        (408, True),
        (409, True),
        (429, True),
        (400, False),
        (401, False),
        (404, False),
        (422, False),
    ],
)
def test_which_answers_are_retried(status: int, retryable: bool) -> None:
    failure = failure_for(status, "answer body", {"Retry-After": "7"})
    assert failure.retryable is retryable
    assert failure.response == "answer body" and failure.status == status
    assert failure.retry_after == (7.0 if retryable else None)


def state(breaker: CircuitBreaker) -> CircuitState:
    return breaker.state  # read through a call: the state moves with the clock


def test_breaker_opens_after_failures_probes_once_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, open_seconds=30, clock=clock)
    for _ in range(2):
        breaker.failed()
    assert state(breaker) is CircuitState.CLOSED and breaker.room(5, 0) == 5
    breaker.failed()
    assert state(breaker) is CircuitState.OPEN and breaker.room(5, 0) == 0
    assert breaker.seconds_until_probe() == 30
    clock.now += 30
    assert state(breaker) is CircuitState.HALF_OPEN
    assert breaker.room(5, 0) == 1 and breaker.room(5, 1) == 0  # one probe at a time
    breaker.failed()  # the probe failed: open again, for a full period
    assert state(breaker) is CircuitState.OPEN and breaker.seconds_until_probe() == 30
    clock.now += 30
    breaker.succeeded()
    assert state(breaker) is CircuitState.CLOSED and breaker.room(5, 2) == 5


def test_budget_refills_at_its_rate_up_to_the_burst() -> None:
    clock = Clock()
    budget = DeliveryBudget(per_second=2, burst=3, clock=clock)
    assert budget.available() == 3
    budget.spend(3)
    assert budget.available() == 0 and budget.seconds_until_next() == 0.5
    clock.now += 0.5
    assert budget.available() == 1
    clock.now += 100
    assert budget.available() == 3


def _item(row_id: int, action: OutboxAction, **payload: object) -> OutboxItem:
    return OutboxItem(row_id, 7, "jira", action, f"k{row_id}", payload, 1, T0)


def test_merged_rows_sum_occurrences_keep_notes_and_span_changes() -> None:
    claim = Claim(
        _item(1, OutboxAction.COMMENT, occurrences=1),
        (
            _item(2, OutboxAction.UPDATE, changes={"priority": ["P4", "P3"]}),
            _item(3, OutboxAction.COMMENT, text="reply", author="ann@example.org"),
            _item(4, OutboxAction.UPDATE, changes={"priority": ["P3", "P1"]}),
            _item(5, OutboxAction.COMMENT, occurrences=4),
        ),
    )
    delivery = merge(claim, {"key": "INC-000007"})
    assert delivery.action is OutboxAction.UPDATE  # an update is among them
    assert delivery.occurrences == 5 and delivery.merged == 5
    assert delivery.notes == ("ann@example.org:\nreply",)
    assert delivery.changes == {"priority": ["P4", "P1"]}
    assert delivery.idempotency_key == "k1" and delivery.key == "INC-000007"
