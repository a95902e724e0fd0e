"""Replicas on one PostgreSQL under faults: kill -9 at random, and the database going away.

Every promise is checked in the database afterwards: each acknowledged
delivery stored once, each record processed once (one occurrence per
record), one event per fingerprint counting exactly its deliveries, one
incident per correlation key counting exactly its events, and no record
left behind in a lease. With replicas killed, a webhook receiver must get
every incident's ticket, and each forwarding row's key once, except where
a replica died between sending a row and recording it as sent (the row
was then claimed again: at least once, with the same idempotency key).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.integration.alert_load import DELIVERY_HEADER, AlertLoad, fingerprint_of
from tests.integration.daemon import eventually
from tests.integration.fakes.receivers import Receiver
from tests.integration.replicas import ReplicaSet, database_outage, replica_set

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TOTAL = 10_000
FINGERPRINTS = 2_000
GROUPS = 400  # correlation keys: five fingerprints each
PER_SECOND = 250.0
KILL_EVERY_SECONDS = 5.0
# a killed replica's record claims expire after 30 s, its forwarding leases after 120 s
SETTLE_SECONDS = 150.0

RULES = """
rules:
  - name: by-group
    description: the alerts of one group are one incident
    match: {kind: generic}
    correlate: {key: "{labels.group}"}
"""


def _document(url: str, rules: Path, sink_url: str | None = None) -> dict[str, Any]:
    rules.mkdir(exist_ok=True)
    (rules / "10-groups.yaml").write_text(RULES)
    sinks = []
    if sink_url:
        (rules / "00-routes.yaml").write_text("settings:\n  default_routes: [receiver]\n")
        # no comment throttle: the outbox drains within the test
        sinks = [
            {"name": "receiver", "kind": "webhook", "url": sink_url, "comment_interval_seconds": 0}
        ]
    return {
        "sinks": sinks,
        "storage": {"url": url, "pool_size": 4, "connect_timeout_seconds": 2},
        "integrations": [
            {
                "name": "alerts",
                "kind": "generic",
                "delivery_id_header": DELIVERY_HEADER,
                "dedup_window_seconds": 0,
            }
        ],
        "rules": {"dir": str(rules), "catalogue": None},
        "pipeline": {"recovery_interval_seconds": 0.5, "periodic_interval_seconds": 1},
        "logging": {"level": "warning", "format": "json"},
        "lifecycle": {"drain_seconds": 5},
    }


async def _rows(url: str, statement: str, *values: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        rows: list[asyncpg.Record] = await connection.fetch(statement, *values)
        return rows
    finally:
        await connection.close()


async def _unfinished(url: str) -> int:
    """Records not yet processed and forwarding rows not yet delivered."""
    try:
        rows = await _rows(
            url,
            "SELECT (SELECT count(*) FROM intake_records WHERE state = 'pending') "
            "+ (SELECT count(*) FROM outbox WHERE state = 'pending') AS n",
        )
    except (OSError, asyncpg.PostgresError):
        return -1  # the database is away: not finished
    return int(rows[0]["n"])


async def _kill_at_random(
    replicas: ReplicaSet, rng: random.Random, stop: asyncio.Event, kills: list[str]
) -> None:
    """kill -9 one replica every few seconds and start it again at once."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), KILL_EVERY_SECONDS)
        except TimeoutError:
            victim = rng.choice(replicas.members)
            victim.kill()
            victim.start()
            kills.append(victim.name)


async def _check_stored(url: str, load: AlertLoad) -> None:
    """Each delivery stored once and processed once; nothing left in a lease."""
    records = await _rows(
        url,
        "SELECT id, state, claimed_until, meta->>'delivery_id' AS delivery, body "
        "FROM intake_records",
    )
    states = Counter(row["state"] for row in records)
    assert states == {"processed": len(records)}, states
    assert [row["id"] for row in records if row["claimed_until"] is not None] == []
    deliveries = Counter(int(row["delivery"]) for row in records)
    assert [number for number, seen in deliveries.items() if seen > 1] == []
    missing = sorted(set(load.acked) - set(deliveries))
    assert missing == [], f"{len(missing)} acknowledged deliveries are not stored"
    twice = await _rows(
        url,
        "SELECT intake_id, count(*) AS n FROM occurrences GROUP BY intake_id HAVING count(*) > 1",
    )
    assert [(row["intake_id"], row["n"]) for row in twice] == [], "a record was processed twice"
    once = await _rows(url, "SELECT count(DISTINCT intake_id) AS n FROM occurrences")
    assert once[0]["n"] == len(records)


async def _check_events(url: str, expected: Counter[str]) -> None:
    """One event per fingerprint whose count is the number of its stored records."""
    events = await _rows(url, "SELECT name, count FROM events")
    names = Counter(row["name"] for row in events)
    assert [name for name, seen in names.items() if seen > 1] == []
    counts = {row["name"]: int(row["count"]) for row in events}
    wrong = {name: (counts.get(name), want) for name, want in expected.items()}
    wrong = {name: pair for name, pair in wrong.items() if pair[0] != pair[1]}
    assert wrong == {}, f"{len(wrong)} events count wrong (stored, expected): {wrong}"
    assert set(counts) == set(expected)


async def _check_incidents(url: str, groups: int) -> None:
    """One incident per correlation key, counting exactly the occurrences of its events."""
    incidents = await _rows(
        url,
        "SELECT i.id, i.correlation_key, i.status, i.event_count, "
        "(SELECT sum(e.count) FROM events e WHERE e.incident_id = i.id) AS counted "
        "FROM incidents i",
    )
    keys = Counter(row["correlation_key"] for row in incidents)
    assert [key for key, seen in keys.items() if seen > 1] == []
    assert len(keys) == groups
    wrong = [
        (row["correlation_key"], row["event_count"], row["counted"])
        for row in incidents
        if row["event_count"] != row["counted"]
    ]
    assert wrong == [], f"incident event_count differs from its events' counts: {wrong[:20]}"
    loose = await _rows(url, "SELECT count(*) AS n FROM events WHERE incident_id IS NULL")
    assert loose[0]["n"] == 0


async def _check_deliveries(url: str, received: list[str]) -> None:
    """Every incident's ticket arrived; a key arrived twice only if its row was claimed
    again after a kill; nothing arrived that the outbox does not hold."""
    rows = await _rows(url, "SELECT idempotency_key, state, attempts, action FROM outbox")
    states = Counter(row["state"] for row in rows)
    assert states == {"delivered": len(rows)}, states
    attempts = {row["idempotency_key"]: int(row["attempts"]) for row in rows}
    seen = Counter(received)
    assert set(seen) <= set(attempts), "the receiver got a key the outbox does not hold"
    creates = {row["idempotency_key"] for row in rows if row["action"] == "create"}
    incidents = await _rows(url, "SELECT count(*) AS n FROM incidents")
    assert len(creates) == incidents[0]["n"] and creates <= set(seen)
    unexplained = {key: n for key, n in seen.items() if n > 1 and attempts[key] < n}
    assert unexplained == {}, "a row was delivered more often than it was claimed"
    print(
        f"deliveries: {len(received)}, keys {len(seen)}, repeated after a kill: "
        f"{sum(1 for n in seen.values() if n > 1)}"
    )


def _expected_counts(records: Sequence[asyncpg.Record]) -> Counter[str]:
    return Counter(fingerprint_of(bytes(row["body"])) for row in records)


async def _check_all(url: str, load: AlertLoad, groups: int) -> None:
    await _check_stored(url, load)
    records = await _rows(url, "SELECT body FROM intake_records")
    await _check_events(url, _expected_counts(records))
    await _check_incidents(url, groups)


async def test_three_replicas_killed_at_random_lose_and_double_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    seed = int(os.environ.get("INTAKE_TEST_SEED") or random.SystemRandom().randrange(10**6))
    print(f"kill order seed: INTAKE_TEST_SEED={seed}")
    rng = random.Random(seed)
    async with Receiver() as receiver:
        received = await _run_killing(tmp_path, postgres_url, receiver, rng)
    await _check_deliveries(postgres_url, received)


async def _run_killing(
    tmp_path: Path, url: str, receiver: Receiver, rng: random.Random
) -> list[str]:
    """The load with a replica killed every few seconds; the receiver's keys, in order."""
    document = _document(url, tmp_path / "rules", f"{receiver.url}/tickets")
    with replica_set(tmp_path, 3, document) as replicas:
        await replicas.ready()
        load = AlertLoad(
            urls=lambda: [f"{member.url}/webhooks/alerts" for member in replicas],
            total=TOTAL,
            fingerprints=FINGERPRINTS,
            groups=GROUPS,
            per_second=PER_SECOND,
        )
        stop = asyncio.Event()
        kills: list[str] = []
        killer = asyncio.create_task(_kill_at_random(replicas, rng, stop, kills))
        try:
            await load.run()
            # two more kills while the pipeline catches up
            await asyncio.sleep(2 * KILL_EVERY_SECONDS + 1)
        finally:
            stop.set()
            await killer
        print(load.status_line(), f"kills: {kills}")
        assert len(kills) >= 8 and len(load.acked) == TOTAL
        await eventually(lambda: _unfinished(url), lambda left: left == 0, within=SETTLE_SECONDS)
        await _check_all(url, load, GROUPS)
        assert replicas.error_lines() == []
    return [request.headers["Idempotency-Key"] for request, _ in receiver.received]


async def test_database_outage_answers_503_then_recovers_and_loses_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    total, fingerprints, groups = 3_000, 500, 100
    with replica_set(tmp_path, 1, _document(postgres_url, tmp_path / "rules")) as replicas:
        await replicas.ready()
        load = AlertLoad(
            urls=lambda: [f"{replicas[0].url}/webhooks/alerts"],
            total=total,
            fingerprints=fingerprints,
            groups=groups,
            per_second=200.0,
        )
        sending = asyncio.create_task(load.run())
        await eventually(
            lambda: asyncio.sleep(0, len(load.acked)), lambda acked: acked >= 500, within=30
        )
        async with database_outage(postgres_url):
            await eventually(
                lambda: asyncio.sleep(0, load.outcomes["503"]), lambda seen: seen >= 20, within=30
            )
            acked_during = len(load.acked)
            await asyncio.sleep(4)
            # nothing is acknowledged while nothing can be committed
            assert len(load.acked) == acked_during
        await sending
        print(load.status_line())
        assert len(load.acked) == total
        await eventually(lambda: _unfinished(postgres_url), lambda left: left == 0, within=60)
        await _check_all(postgres_url, load, groups)
