"""An alert storm against the daemon as a process: exact counts, flat memory.

100,000 alerts of 1,000 distinct fingerprints arrive as Alertmanager
notifications of 50 alerts each (2,000 requests: Alertmanager groups alerts
into notifications like these) from 32 concurrent clients. Every alert
fires and carries the value of its evaluation, so no two bodies are alike
and none is dropped as a re-delivery. Afterwards there must be exactly
1,000 events, each counting its 100 occurrences, and the daemon's resident
memory (read from /proc) must not have grown by more than 100 MB after the
warm-up: a storm may lag the pipeline but must not pile up in memory.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.alertmanager import free_port
from tests.integration.daemon import eventually
from tests.integration.test_cli import daemon_process

ALERTS = 100_000
FINGERPRINTS = 1_000
PER_NOTIFICATION = 50
CLIENTS = 32
WARM_UP_NOTIFICATIONS = 100  # the first 5,000 alerts: caches, pools and tables fill up
MAX_GROWTH_MB = 100
PROCESSING_LIMIT_SECONDS = 150

pytestmark = pytest.mark.slow


def notification(number: int) -> bytes:
    """Alerts ``number * 50`` .. ``number * 50 + 49`` in one Alertmanager notification."""
    first = number * PER_NOTIFICATION
    alerts = []
    for alert in range(first, first + PER_NOTIFICATION):
        identity = alert % FINGERPRINTS
        alerts.append(
            {
                "status": "firing",
                "labels": {
                    "alertname": f"Storm{identity % 20}",
                    "instance": f"host-{identity}:9100",
                    "severity": "warning",
                },
                "annotations": {"summary": "storm", "value": str(alert)},
                "startsAt": "2026-01-05T08:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{identity:016x}",
            }
        )
    return orjson.dumps({"version": "4", "status": "firing", "groupKey": "{}:{}", "alerts": alerts})


def _config(tmp_path: Path, port: int) -> Path:
    document = {
        "storage": {"url": f"sqlite://{tmp_path}/storm.sqlite3"},
        "http": {"listen": f"127.0.0.1:{port}"},
        "integrations": [{"name": "storm", "kind": "alertmanager"}],
        "rules": {"dir": str(tmp_path / "rules"), "catalogue": None},
        "logging": {"level": "warning", "format": "json"},
    }
    (tmp_path / "rules").mkdir(exist_ok=True)
    path = tmp_path / "gateway.yaml"
    path.write_bytes(orjson.dumps(document))
    return path


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


class MemorySampler:
    """The daemon's resident set size, sampled while the storm runs."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self.samples: list[float] = []

    async def run(self) -> None:
        while True:
            self.samples.append(resident_mb(self._pid))
            await asyncio.sleep(0.25)


async def _post_all(http: aiohttp.ClientSession, url: str, numbers: Iterator[int]) -> Counter[int]:
    statuses: Counter[int] = Counter()

    async def client() -> None:
        for number in numbers:  # one shared iterator: each notification is posted once
            async with http.post(
                url, data=notification(number), headers={"Content-Type": "application/json"}
            ) as response:
                await response.read()
                statuses[response.status] += 1

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return statuses


async def _processed(http: aiohttp.ClientSession) -> dict[str, float]:
    async with http.get("/metrics") as response:
        text = await response.text()
    found = {"processed": 0.0, "failed": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "intake_gateway_records_processed_total":
                found[sample.labels["outcome"]] = sample.value
    return found


async def _until_processed(http: aiohttp.ClientSession, records: int, within: float) -> None:
    done = await eventually(
        lambda: _processed(http),
        lambda found: found["processed"] + found["failed"] >= records,
        within=within,
    )
    assert done == {"processed": records, "failed": 0}


async def _all_events(http: aiohttp.ClientSession) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    query = "/api/v1/events?source=storm&limit=500"
    while True:
        async with http.get(query) as response:
            page = await response.json()
        events.extend(page["items"])
        if page["next_before"] is None:
            return events
        query = f"/api/v1/events?source=storm&limit=500&before={page['next_before']}"


async def test_storm_of_100k_alerts_leaves_exact_counts_and_flat_memory(tmp_path: Path) -> None:
    port = free_port()
    requests = ALERTS // PER_NOTIFICATION
    with daemon_process(_config(tmp_path, port), tmp_path / "daemon.log") as process:
        base = f"http://127.0.0.1:{port}"
        connector = aiohttp.TCPConnector(limit=CLIENTS)
        async with aiohttp.ClientSession(base, connector=connector) as http:

            async def ready() -> int:
                assert process.poll() is None, (tmp_path / "daemon.log").read_text()[-2000:]
                try:
                    async with http.get("/readyz") as response:
                        return response.status
                except aiohttp.ClientConnectionError:
                    return 0

            await eventually(ready, lambda status: status == 200, within=30)
            sampler = MemorySampler(process.pid)
            sampling = asyncio.create_task(sampler.run())
            try:
                url = "/webhooks/storm"
                warm = await _post_all(http, url, iter(range(WARM_UP_NOTIFICATIONS)))
                await _until_processed(http, WARM_UP_NOTIFICATIONS, within=60)
                baseline = resident_mb(process.pid)
                started = time.monotonic()
                storm = await _post_all(http, url, iter(range(WARM_UP_NOTIFICATIONS, requests)))
                acked = time.monotonic() - started
                await _until_processed(http, requests, within=PROCESSING_LIMIT_SECONDS)
                finished = time.monotonic() - started
            finally:
                sampling.cancel()
            events = await _all_events(http)
        process.terminate()
        assert process.wait(timeout=30) == 0

    assert warm + storm == Counter({202: requests})
    figures = (
        f"{ALERTS - WARM_UP_NOTIFICATIONS * PER_NOTIFICATION} alerts acknowledged in "
        f"{acked:.1f}s, all processed after {finished:.1f}s"
    )
    assert len(events) == FINGERPRINTS, figures
    assert sum(event["count"] for event in events) == ALERTS, figures
    counts = Counter(event["count"] for event in events)
    assert counts == Counter({ALERTS // FINGERPRINTS: FINGERPRINTS}), figures
    assert {event["fingerprint"] for event in events} == {
        f"{identity:016x}" for identity in range(FINGERPRINTS)
    }
    growth = max(sampler.samples) - baseline
    print(f"{figures}; resident {baseline:.0f} MB after warm-up, peak {baseline + growth:.0f} MB")
    assert growth < MAX_GROWTH_MB, f"resident memory grew by {growth:.0f} MB; {figures}"
