"""Incident-level histograms for Prometheus: time to acknowledge and time to resolve,
by priority, over every stored incident (the figures the reports are made of, so a
Grafana panel and a report agree).

They are read from the database by one SQL aggregate per histogram every
``_REFRESH_SECONDS`` and served from that snapshot, so a scrape never waits for the
database. Every replica serves the same figures (they are the database's, not the
replica's): aggregate them with max, not sum, across instances.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from core.errors import StorageUnavailable
from gateway.background import background
from storage import Database, time_histogram

log = structlog.get_logger(__name__)

BOUNDS = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
          259200.0, 604800.0)  # fmt: skip
_REFRESH_SECONDS = 30.0
_HISTOGRAMS = (
    ("acknowledge", "acknowledged_at", "Seconds from opening to the first acknowledge."),
    ("resolve", "resolved_at", "Seconds from opening to resolve (the last, if reopened)."),
)


def _family(name: str, help_text: str, rows: list[dict[str, Any]]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        f"intake_gateway_incident_time_to_{name}_seconds", help_text, labels=["priority"]
    )
    for row in rows:
        buckets = [(repr(bound), int(row[f"b{index}"] or 0)) for index, bound in enumerate(BOUNDS)]
        buckets.append(("+Inf", int(row["count"])))
        family.add_metric([str(row["priority"])], buckets, float(row["total"] or 0.0))
    return family


class IncidentTimes(Collector):
    def __init__(self, db: Database, registry: CollectorRegistry) -> None:
        self._db = db
        self._snapshot: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in _HISTOGRAMS}
        registry.register(self)

    def describe(self) -> list[HistogramMetricFamily]:
        return [_family(name, text, []) for name, _, text in _HISTOGRAMS]

    def collect(self) -> Iterator[HistogramMetricFamily]:
        for name, _, text in _HISTOGRAMS:
            yield _family(name, text, self._snapshot[name])

    async def refresh(self) -> None:
        for name, column, _ in _HISTOGRAMS:
            self._snapshot[name] = await time_histogram(self._db, column, BOUNDS)

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except StorageUnavailable as exc:  # the last snapshot stays; /readyz tells
                log.warning("incident_times_unavailable", error=str(exc))
            await asyncio.sleep(_REFRESH_SECONDS)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with background(self._loop(), "incident-times"):
            yield
