"""A correctly signed request sent again within its window is refused (401
replayed_signature) and stores nothing, on both engines, with concurrent copies,
across replicas on one PostgreSQL, and after an upgrade from schema version 6."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from storage.database import Database, DatabaseSettings
from storage.migrations import MIGRATIONS, current_version, migrate
from storage.signatures import SignatureClaim, record_claims
from storage.sql import Sql
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, running_daemon
from tests.integration.replicas import replica_set

SECRET = b"k3y"
BODY = b'{"name": "disk full", "resource": "db1"}'


def _auth(window: int = 60) -> dict[str, Any]:
    return {"type": "hmac", "secret": SECRET.decode(), "replay_window_seconds": window}


def _signed(body: bytes = BODY, stamp: str | None = None) -> dict[str, str]:
    stamp = stamp or str(int(time.time()))
    signature = hmac.new(SECRET, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Signature": f"sha256={signature}",
        "X-Timestamp": stamp,
    }


def _config(write_config: ConfigWriter, database_url: str, window: int = 60) -> Any:
    # no body de-duplication: a replay that got through would be a second record
    integration = {
        "name": "generic",
        "kind": "generic",
        "auth": _auth(window),
        "dedup_window_seconds": 0,
    }
    return write_config(database_url, integrations=[integration])


async def _post(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> tuple[int, str]:
    async with http.post(url, data=BODY, headers=headers) as response:
        body = await response.json()
        return response.status, str(body.get("error", body.get("status")))


async def _stored(daemon: RunningDaemon) -> int:
    _, rows = await daemon.services.db.connection.execute_query(
        "SELECT COUNT(*) AS n FROM intake_records"
    )
    return int(rows[0]["n"])


async def test_a_replayed_signature_is_401_and_stores_nothing(
    write_config: ConfigWriter, database_url: str
) -> None:
    async with running_daemon(_config(write_config, database_url)) as daemon:
        headers = _signed()
        assert await _post(daemon.http, "/webhooks/generic", headers) == (202, "accepted")
        async with daemon.http.post("/webhooks/generic", data=BODY, headers=headers) as response:
            assert response.status == 401
            assert response.content_type == "application/json"
            answer = await response.json()
        assert answer["error"] == "replayed_signature"
        assert "already accepted" in answer["message"]
        assert await _stored(daemon) == 1


async def test_twenty_concurrent_copies_are_accepted_once(
    write_config: ConfigWriter, database_url: str
) -> None:
    async with running_daemon(_config(write_config, database_url)) as daemon:
        headers = _signed()
        answers = await asyncio.gather(
            *(_post(daemon.http, "/webhooks/generic", headers) for _ in range(20))
        )
        assert Counter(answers) == {(202, "accepted"): 1, (401, "replayed_signature"): 19}
        assert await _stored(daemon) == 1
        # another request of the same sender, signed anew, is not a replay
        later = _signed(stamp=str(int(time.time()) + 1))
        assert await _post(daemon.http, "/webhooks/generic", later) == (202, "accepted")


async def test_after_the_window_a_fresh_signature_works_and_the_ledger_is_pruned(
    write_config: ConfigWriter, database_url: str
) -> None:
    async with running_daemon(_config(write_config, database_url, window=1)) as daemon:
        first = _signed()
        assert await _post(daemon.http, "/webhooks/generic", first) == (202, "accepted")
        await asyncio.sleep(2.2)
        # the old signature is stale by now; the same body signed now is a new request
        assert await _post(daemon.http, "/webhooks/generic", first) == (401, "stale_signature")
        assert await _post(daemon.http, "/webhooks/generic", _signed()) == (202, "accepted")
        assert await _stored(daemon) == 2
        db = daemon.services.db
        _, rows = await db.connection.execute_query("SELECT COUNT(*) AS n FROM seen_signatures")
        assert rows[0]["n"] == 2
        # the periodic job forgets signatures out of their window (and a grace)
        await daemon.services.jobs.run_once(datetime.now(UTC) + timedelta(minutes=5))
        _, rows = await db.connection.execute_query("SELECT COUNT(*) AS n FROM seen_signatures")
        assert rows[0]["n"] == 0


@pytest.mark.postgres
async def test_copies_sent_to_two_replicas_are_accepted_once(
    tmp_path: Path, postgres_url: str
) -> None:
    (tmp_path / "rules").mkdir()
    document = {
        "storage": {"url": postgres_url, "pool_size": 4},
        "integrations": [
            {"name": "generic", "kind": "generic", "auth": _auth(), "dedup_window_seconds": 0}
        ],
        "rules": {"dir": str(tmp_path / "rules"), "catalogue": None},
        "logging": {"level": "warning", "format": "json"},
    }
    with replica_set(tmp_path, 2, document) as replicas:
        await replicas.ready()
        async with aiohttp.ClientSession() as http:
            for round_ in range(3):
                headers = _signed(stamp=str(int(time.time()) + round_))
                answers = await asyncio.gather(
                    *(
                        _post(http, f"{replicas[index % 2].url}/webhooks/generic", headers)
                        for index in range(20)
                    )
                )
                assert Counter(answers) == {(202, "accepted"): 1, (401, "replayed_signature"): 19}
        assert replicas.error_lines() == []
    connection = await asyncpg.connect(postgres_url, timeout=5)
    try:
        assert await connection.fetchval("SELECT COUNT(*) FROM intake_records") == 3
    finally:
        await connection.close()


async def test_a_version_6_database_gets_the_replay_ledger(database_url: str) -> None:
    db = Database(DatabaseSettings(url=database_url))
    await db.open()
    try:
        await migrate(db)
        connection = db.connection
        await connection.execute_script('DROP TABLE "seen_signatures"')
        await connection.execute_query("UPDATE gateway_schema SET version = 6")
        assert await current_version(db, connection) == 6
        assert await migrate(db) == max(step.version for step in MIGRATIONS) >= 7
        claim = SignatureClaim("generic", "ab" * 32, datetime.now(UTC) + timedelta(minutes=1))
        sql = Sql(db.dialect)
        async with db.transaction() as runner:
            assert await record_claims(runner, sql, [claim]) == {claim.key}
        async with db.transaction() as runner:
            assert await record_claims(runner, sql, [claim]) == set()  # a replay
    finally:
        await db.close()
