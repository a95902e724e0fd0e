"""Big Alertmanager payloads: small webhooks keep being answered while they are applied.

Alertmanager may send one notification with 10,000 alerts (its own limit is
the receiver's ``max_alerts``). While the pipeline applies such a payload,
the other senders must still be acknowledged at once. The daemon runs with
an inhibit rule (as the example rules have), so every warning reads the
firing events that could inhibit it.

``payloads`` notifications of ``alerts`` alerts each are posted one after the
other, each once the previous one is applied, each with new fingerprints (so
the firing events pile up: ``payloads * alerts`` at the end). Meanwhile one
client posts a small generic webhook every ``interval`` seconds. Two
figures:

- the small webhooks' acknowledgement latency (p50, p99), target p99 < 100 ms;
- alerts processed per second: every payload's alerts over the time from its
  post to its being applied, target >= 5,000 alerts/s on SQLite;
- alerts per second of the daemon's CPU time over the same spans (user and system,
  every thread): what it costs, whatever else runs on the machine meanwhile.

Usage: python -m bench.bigpayload_bench [--alerts N] [--payloads N] [--engines ...]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

from bench import pg
from bench.common import Figure, Row, figure
from bench.daemon import daemon, wait_processed
from bench.report import NotRun, Outcome, print_report

_INTERVAL_SECONDS = 0.02
_PROCESS_LIMIT_SECONDS = 600
_MAX_BODY_BYTES = 64 * 1024 * 1024

INHIBIT_RULES = """\
inhibit:
  - name: uplink-down
    source: {alertname: UplinkDown}
    target: {labels.severity: {in: [warning, info]}}
    equal: [site]
"""


def big_notification(number: int, alerts: int) -> bytes:
    """Notification ``number``: ``alerts`` firing alerts, fingerprints new to it."""
    return orjson.dumps(
        {
            "version": "4",
            "status": "firing",
            "receiver": "big",
            "groupKey": f"{{}}:{{payload={number}}}",
            "groupLabels": {},
            "commonLabels": {"job": "node"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.bench:9093",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {
                        "alertname": f"Big{index % 20}",
                        "instance": f"host-{number}-{index}:9100",
                        "job": "node",
                        "site": f"site-{index % 10}",
                        "severity": ("critical", "warning")[index % 2],
                    },
                    "annotations": {"summary": "big payload"},
                    "startsAt": "2026-01-05T08:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": f"{number:04x}{index:012x}",
                }
                for index in range(alerts)
            ],
        }
    )


@dataclasses.dataclass
class SmallWebhooks:
    """One sender posting a small webhook every ``interval`` seconds until stopped."""

    url: str
    interval: float
    latencies: list[float] = dataclasses.field(default_factory=list)
    errors: int = 0
    stop: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    async def run(self) -> None:
        number = 0
        async with aiohttp.ClientSession() as http:
            while not self.stop.is_set():
                body = orjson.dumps({"name": f"small {number}", "resource": "probe"})
                started = time.perf_counter()
                async with http.post(
                    self.url, data=body, headers={"Content-Type": "application/json"}
                ) as response:
                    await response.read()
                    if response.status != 202:
                        self.errors += 1
                self.latencies.append(time.perf_counter() - started)
                number += 1
                await asyncio.sleep(self.interval)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _ours(
    directory: Path, alerts: int, payloads: int, db_url: str | None
) -> tuple[Figure, Figure, Figure]:
    (directory / "rules").mkdir(parents=True, exist_ok=True)
    (directory / "rules" / "inhibit.yaml").write_text(INHIBIT_RULES)
    integrations = [
        {"name": "generic", "kind": "generic", "dedup_window_seconds": 0},
        {
            "name": "alertmanager",
            "kind": "alertmanager",
            "dedup_window_seconds": 0,
            "max_body_bytes": _MAX_BODY_BYTES,
            "options": {"max_alerts": alerts},
        },
    ]
    with daemon(directory, db_url, integrations=integrations) as running:
        await running.ready()
        small = SmallWebhooks(running.generic, _INTERVAL_SECONDS)
        sender = asyncio.create_task(small.run())
        processing = cpu = 0.0
        async with aiohttp.ClientSession() as http:
            for number in range(payloads):
                body = big_notification(number, alerts)
                started, cpu_started = time.perf_counter(), cpu_seconds(running.pid)
                async with http.post(
                    running.alertmanager, data=body, headers={"Content-Type": "application/json"}
                ) as response:
                    if response.status != 202:
                        raise RuntimeError(f"payload {number}: {response.status}")
                # the payloads, and the small webhooks posted so far
                target = 1 + number + len(small.latencies)
                done = await wait_processed(running.base, target, _PROCESS_LIMIT_SECONDS)
                if done < target:
                    raise RuntimeError(f"payload {number} not applied in time")
                processing += time.perf_counter() - started
                cpu += cpu_seconds(running.pid) - cpu_started
        small.stop.set()
        await sender
        answered = figure(
            "intake-gateway",
            len(small.latencies),
            len(small.latencies) * small.interval,
            small.latencies,
            small.errors,
            running.pid,
        )
    processed = dataclasses.replace(
        answered,
        per_second=alerts * payloads / processing,
        p50_ms=float("nan"),
        p99_ms=float("nan"),
        requests=payloads,
        errors=0,
    )
    return answered, processed, dataclasses.replace(processed, per_second=alerts * payloads / cpu)


async def measure(
    alerts: int, payloads: int, engines: tuple[str, ...] = ("SQLite", "PostgreSQL")
) -> list[Outcome]:
    scenario = f"{payloads} payloads of {alerts:,} alerts"
    missing = await pg.available()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="intake-bigpayload-") as raw:
        for engine in engines:
            if engine == "PostgreSQL" and missing:
                outcomes.append(NotRun(f"{scenario} ({engine})", missing))
                continue
            directory = Path(raw) / engine
            if engine == "SQLite":
                answered, processed, costs = await _ours(directory, alerts, payloads, None)
            else:
                async with pg.scratch_database() as url:
                    answered, processed, costs = await _ours(directory, alerts, payloads, url)
            outcomes.append(
                Row(
                    f"{scenario} ({engine}): small webhook intake meanwhile",
                    answered,
                    None,
                    "req/s",
                    "p99 < 100 ms",
                )
            )
            outcomes.append(
                Row(
                    f"{scenario} ({engine}): processed",
                    processed,
                    None,
                    "alerts/s",
                    ">= 5,000 alerts/s on SQLite",
                )
            )
            outcomes.append(
                Row(f"{scenario} ({engine}): daemon CPU", costs, None, "alerts/CPU-s", "")
            )
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--payloads", type=int, default=3)
    parser.add_argument(
        "--engines", nargs="+", default=["SQLite", "PostgreSQL"], choices=["SQLite", "PostgreSQL"]
    )
    args = parser.parse_args()
    outcomes = asyncio.run(measure(args.alerts, args.payloads, tuple(args.engines)))
    print_report(outcomes, "big payloads")


if __name__ == "__main__":
    main()
