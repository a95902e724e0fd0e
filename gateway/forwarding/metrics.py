"""Forwarding metrics, on the daemon's registry. The only label is the sink name from config
(rows naming an unconfigured sink count as ``unconfigured``) and a small outcome set."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import suppress
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from storage import SinkDepth

_PREFIX = "intake_gateway_outbox"
UNCONFIGURED = "unconfigured"
OUTCOMES = ("delivered", "retried", "dead", "deferred", "fallback")

# A sink's answer: tens of milliseconds to a timeout of several seconds.
_REQUEST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Queue to delivered: instant when healthy, minutes to hours through an outage.
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 1800.0, 7200.0)


class OutboxMetrics:
    def __init__(self, registry: CollectorRegistry, sinks: Iterable[str]) -> None:
        self.sinks = frozenset(sinks)
        r = registry
        self.deliveries = Counter(
            f"{_PREFIX}_deliveries_total",
            "Delivery attempts by outcome (delivered, retried, dead, deferred, fallback).",
            ["sink", "outcome"],
            registry=r,
        )
        self.retries = Counter(
            f"{_PREFIX}_retries_total",
            "Deliveries rescheduled after a failure.",
            ["sink"],
            registry=r,
        )
        self.request_seconds = Histogram(
            f"{_PREFIX}_request_seconds",
            "Time a sink took to take one delivery (success or failure).",
            ["sink"],
            buckets=_REQUEST_BUCKETS,
            registry=r,
        )
        self.latency = Histogram(
            f"{_PREFIX}_delivery_latency_seconds",
            "Time from the outbox row's commit to its delivery.",
            ["sink"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.depth = Gauge(
            f"{_PREFIX}_depth", "Outbox rows waiting for delivery.", ["sink"], registry=r
        )
        self.oldest = Gauge(
            f"{_PREFIX}_oldest_age_seconds",
            "Age of the oldest row waiting for delivery (0 when none).",
            ["sink"],
            registry=r,
        )
        self.dead = Gauge(
            f"{_PREFIX}_dead_letters",
            "Rows given up on, kept for inspection.",
            ["sink"],
            registry=r,
        )
        self.circuit = Gauge(
            f"{_PREFIX}_circuit_state",
            "Circuit breaker: 0 closed, 1 half-open, 2 open.",
            ["sink"],
            registry=r,
        )
        for sink in (*self.sinks, UNCONFIGURED):
            self._show(sink)
        for sink in self.sinks:
            self.circuit.labels(sink).set(0)

    def _show(self, sink: str) -> None:
        for outcome in OUTCOMES:
            self.deliveries.labels(sink, outcome)
        self.depth.labels(sink).set(0)
        self.oldest.labels(sink).set(0)
        self.dead.labels(sink).set(0)

    def configure(self, sinks: Iterable[str]) -> None:
        """The sinks after a reload: a removed sink's gauges go (its rows now count as
        unconfigured), an added sink's series start at zero."""
        wanted = frozenset(sinks)
        for gone in self.sinks - wanted:
            for gauge in (self.depth, self.oldest, self.dead, self.circuit):
                with suppress(KeyError):
                    gauge.remove(gone)
        for added in wanted - self.sinks:
            self._show(added)
            self.circuit.labels(added).set(0)
        self.sinks = wanted

    def label(self, sink: str) -> str:
        return sink if sink in self.sinks else UNCONFIGURED

    def show_depth(self, found: Mapping[str, SinkDepth], now: datetime) -> None:
        """The depth gauges from the outbox's rows by sink (unknown sinks summed)."""
        totals: dict[str, list[float]] = {}
        for sink, depth in found.items():
            current = totals.setdefault(self.label(sink), [0, 0.0, 0])
            current[0] += depth.pending
            current[2] += depth.dead
            if depth.oldest_pending is not None:
                current[1] = max(current[1], (now - depth.oldest_pending).total_seconds())
        for label in (*self.sinks, UNCONFIGURED):
            pending, oldest, dead = totals.get(label, [0, 0.0, 0])
            self.depth.labels(label).set(pending)
            self.oldest.labels(label).set(max(0.0, oldest))
            self.dead.labels(label).set(dead)
