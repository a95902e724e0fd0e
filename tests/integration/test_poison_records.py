"""A record the database cannot take fails alone, and never looks like an outage.

PostgreSQL refuses NUL in text and JSON: text derived from intake is stored
with U+FFFD in its place (the raw record keeps every byte), on both engines
alike. A record whose rows the database refuses all the same is marked
failed, visibly, and replay re-queues it; the database stays "up" and the
records around it are processed.
"""

from __future__ import annotations

import asyncio

from gateway.processing.replay import replay
from gateway.runtime import compile_runtime
from storage import models
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.mail_support import MAILBOXES, smtp_port, smtp_section
from tests.integration.poison import DatabaseUpWatch, mail, metric, raw_mail, refusing

NUL_ALERT = b'{"name":"a\\u0000b","resource":"r","summary":"s\\u0000","labels":{"k\\u0000":"v"}}'
MARKER = "poison-pill"


async def _post(daemon: RunningDaemon, body: bytes) -> int:
    headers = {"Content-Type": "application/json"}
    async with daemon.http.post("/webhooks/generic", data=body, headers=headers) as response:
        await response.read()
        return response.status


async def _states() -> dict[int, str]:
    return {row.id: row.state for row in await models.IntakeRecordRow.all()}


def _settled(states: dict[int, str]) -> bool:
    return bool(states) and "pending" not in states.values()


async def test_nul_in_intake_is_stored_as_replacement_and_processed(
    write_config: ConfigWriter, database_url: str
) -> None:
    loaded = write_config(database_url, smtp=smtp_section(), mailboxes=MAILBOXES)
    async with running_daemon(loaded) as daemon, DatabaseUpWatch(daemon) as watch:
        goods = [f'{{"name":"good {n}","resource":"r{n}"}}'.encode() for n in range(10)]
        statuses = await asyncio.gather(*(_post(daemon, body) for body in [NUL_ALERT, *goods]))
        assert set(statuses) == {202}
        data = mail("nul\x00subject", "nul@x", b"a NUL \x00 in the body")
        reply = await raw_mail(smtp_port(daemon), helo=b"x", mail_from=b"a@x.org", data=data)
        assert reply.code == 250, reply

        states = await eventually(_states, _settled)
        assert set(states.values()) == {"processed"}, states
        assert watch.samples > 0 and watch.lowest == 1.0
        nul = await models.IntakeRecordRow.get(body=NUL_ALERT)
        assert bytes(nul.body) == NUL_ALERT  # the raw record keeps every byte
        event = await models.Event.get(resource="r")
        assert (event.name, event.summary) == ("a\ufffdb", "s\ufffd")
        assert event.labels["k\ufffd"] == "v"
        incidents = await daemon.incidents()
        assert len(incidents) == 12
        assert "nul subject" in {incident["title"] for incident in incidents}


async def test_a_record_the_database_refuses_fails_alone_and_replay_requeues_it(
    write_config: ConfigWriter, database_url: str
) -> None:
    loaded = write_config(database_url)
    async with running_daemon(loaded) as daemon, DatabaseUpWatch(daemon) as watch:
        async with refusing(daemon, "events", "name", MARKER.encode()):
            bodies = [f'{{"name":"good {n}","resource":"r{n}"}}'.encode() for n in range(20)]
            bodies.insert(7, f'{{"name":"{MARKER}","resource":"bad"}}'.encode())
            statuses = await asyncio.gather(*(_post(daemon, body) for body in bodies))
            assert set(statuses) == {202}
            states = await eventually(_states, _settled)
        assert sorted(states.values()) == ["failed"] + ["processed"] * 20
        failed = await models.IntakeRecordRow.get(state="failed")
        assert MARKER.encode() in bytes(failed.body) and failed.error
        assert watch.samples > 0 and watch.lowest == 1.0  # a record's fault, not an outage
        processed = "intake_gateway_records_processed_total"
        assert await metric(daemon, processed, kind="generic", outcome="failed") == 1
        assert len(await daemon.incidents()) == 20
    report = await replay(compile_runtime(loaded), since=None, dry_run=False)
    assert report.requeued == 1
    async with running_daemon(loaded) as daemon:
        await eventually(daemon.incidents, lambda items: len(items) == 21)
        assert (await models.IntakeRecordRow.get(id=failed.id)).state == "processed"
