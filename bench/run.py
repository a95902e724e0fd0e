"""Every benchmark in one run, one table: this project's figure, the peer's figure
measured in the same run on the same machine, the ratio.

Usage: python -m bench.run [--quick] [--json PATH] [--only NAME ...] [--list]

``--quick`` runs each scenario with a fraction of its load (minutes, not
the better part of an hour); its figures are noisier and are not the ones
to quote. A scenario whose peer or database is missing, or whose module is
not there, is listed under the table with the reason, never left out
silently.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import child, pg
from bench.common import Row
from bench.report import NotRun, Outcome, print_report, write_json


@dataclass(frozen=True, slots=True)
class Load:
    """How much each scenario does: the full suite, or a quick look."""

    requests: int = 20_000
    alerta_requests: int = 10_000
    am_alerts: int = 100_000
    am_rounds: int = 3
    smtp_messages: int = 10_000
    storm_alerts: int = 100_000
    evaluations: int = 20_000
    outbox_backlog: int = 5_000
    outbox_seconds: float = 10.0
    replica_requests: int = 30_000
    memory_minutes: float = 10.0
    api_incidents: int = 100_000
    api_requests: int = 200


QUICK = Load(
    requests=3_000,
    alerta_requests=1_000,
    am_alerts=10_000,
    am_rounds=1,
    smtp_messages=1_000,
    storm_alerts=10_000,
    evaluations=5_000,
    outbox_backlog=1_000,
    outbox_seconds=3.0,
    replica_requests=6_000,
    memory_minutes=1.0,
    api_incidents=10_000,
    api_requests=50,
)

Scenario = Callable[[Load], Awaitable[list[Outcome]]]


def _module(name: str) -> Any:
    """A benchmark module written elsewhere in the project, or None if it is not there."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


async def _postgres(
    title: str, measure: Callable[[str], Awaitable[list[Outcome]]]
) -> list[Outcome]:
    missing = await pg.available()
    if missing:
        return [NotRun(title, missing)]
    async with pg.scratch_database() as url:
        return await measure(url)


async def webhook(load: Load) -> list[Outcome]:
    from bench import webhook_bench

    title = "generic webhook intake (PostgreSQL) vs bare aiohttp"
    rows: list[Outcome] = [await webhook_bench.measure(load.requests, 32, None, "SQLite")]
    return rows + await _postgres(
        title, lambda url: _one(webhook_bench.measure(load.requests, 32, url, "PostgreSQL"))
    )


async def _one(row: Awaitable[Row]) -> list[Outcome]:
    return [await row]


async def alerta(load: Load) -> list[Outcome]:
    from bench import alerta_bench

    return await alerta_bench.measure(load.alerta_requests, 32)


async def alertmanager(load: Load) -> list[Outcome]:
    module = _module("bench.alertmanager_bench")
    if module is None:
        return [
            NotRun(
                "Alertmanager payloads vs Alertmanager", "bench/alertmanager_bench.py is not there"
            )
        ]
    args = argparse.Namespace(
        alerts=load.am_alerts,
        batch=50,
        concurrency=32,
        distinct=1000,
        warmup=100,
        rounds=load.am_rounds,
        db=None,  # SQLite
    )
    rows: list[Outcome] = await module.measure(args)
    missing = await pg.available()
    if missing:
        return [*rows, NotRun("Alertmanager payloads (PostgreSQL)", missing)]
    args.db = pg.ADMIN_URL  # it makes its own scratch databases on this server
    on_postgres: list[Outcome] = await module.measure(args)
    return rows + on_postgres


SMTP_CLIENTS = (16, 32)


async def smtp(load: Load) -> list[Outcome]:
    module = _module("bench.smtp_bench")
    if module is None:
        return [NotRun("SMTP intake vs bare aiosmtpd", "bench/smtp_bench.py is not there")]
    rows: list[Outcome] = []
    # 16 senders, as the kill test; 32, as an MX that relays for a busy site
    for clients in SMTP_CLIENTS:
        rows += await module.measure(load.smtp_messages, clients, None)
    title = "SMTP intake (PostgreSQL) vs bare aiosmtpd"
    return rows + await _postgres(title, lambda url: module.measure(load.smtp_messages, 16, url))


async def storm(load: Load) -> list[Outcome]:
    from bench import storm_bench

    return await storm_bench.measure(load.storm_alerts, ("SQLite", "PostgreSQL"))


async def rules(load: Load) -> list[Outcome]:
    figure = await child.run("bench.rules_figure", str(load.evaluations))
    return [Row("rule evaluation, 200 rules (one event per call)", figure, None, "evals/s")]


async def outbox(load: Load) -> list[Outcome]:
    if _module("bench.outbox_bench") is None:
        return [NotRun("outbox delivery", "bench/outbox_bench.py is not there")]
    rate = "200"
    seconds = str(load.outbox_seconds)
    backlog = str(load.outbox_backlog)
    target = "latency: commit to arrival at 200/s"
    sqlite = await child.run("bench.outbox_figure", backlog, rate, seconds)
    rows: list[Outcome] = [
        Row("outbox delivery, webhook sink (SQLite)", sqlite, None, "rows/s", target)
    ]

    async def on_postgres(url: str) -> list[Outcome]:
        figure = await child.run("bench.outbox_figure", backlog, rate, seconds, url)
        return [Row("outbox delivery, webhook sink (PostgreSQL)", figure, None, "rows/s", target)]

    return rows + await _postgres("outbox delivery (PostgreSQL)", on_postgres)


async def replicas(load: Load) -> list[Outcome]:
    from bench import replicas_bench

    return await replicas_bench.measure(load.replica_requests, 48, 3)


async def memory(load: Load) -> list[Outcome]:
    from bench import memory_bench

    return await memory_bench.measure(load.memory_minutes, 1000.0, None, "SQLite")


async def api(load: Load) -> list[Outcome]:
    from bench import api_bench

    return await api_bench.measure(
        load.api_incidents, 10, load.api_requests, ("SQLite", "PostgreSQL")
    )


SCENARIOS: dict[str, Scenario] = {
    "webhook": webhook,
    "alerta": alerta,
    "alertmanager": alertmanager,
    "smtp": smtp,
    "storm": storm,
    "rules": rules,
    "outbox": outbox,
    "replicas": replicas,
    "memory": memory,
    "api": api,
}


async def run_all(names: list[str], load: Load) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for name in names:
        started = time.monotonic()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        try:
            outcomes += await SCENARIOS[name](load)
        except Exception as exc:  # one broken scenario must not hide the others' figures
            traceback.print_exc(file=sys.stderr)
            outcomes.append(NotRun(name, f"failed: {exc!r}"))
        print(f"[bench] {name} done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="a fraction of the load of each scenario"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--only", nargs="+", choices=sorted(SCENARIOS), help="run these scenarios only"
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args()
    if args.list:
        print("\n".join(SCENARIOS))
        return
    load = QUICK if args.quick else Load()
    names = args.only or list(SCENARIOS)
    outcomes = asyncio.run(run_all(names, load))
    title = "intake-gateway benchmarks" + (
        " (--quick: short runs, noisy figures)" if args.quick else ""
    )
    print_report(outcomes, title)
    if args.json:
        write_json(args.json, outcomes, {"quick": args.quick, "scenarios": names})


if __name__ == "__main__":
    main()
