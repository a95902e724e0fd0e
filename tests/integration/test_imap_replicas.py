"""Replicas on one PostgreSQL: one polls an IMAP folder, another takes over (real Dovecot)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from core.errors import StorageUnavailable
from gateway.intake.imap import FolderWorker
from gateway.intake.imap_lease import FolderLease
from storage.database import Database
from storage.leases import LeaseStore
from tests.conftest import ConfigWriter
from tests.integration.daemon import eventually, running_daemon
from tests.integration.dovecot import Dovecot
from tests.integration.mail_support import MAILBOXES, mail_records, message, running_worker
from tests.integration.test_imap import account

LEASE = "imap:support:INBOX"


class _CutOff(LeaseStore):
    """A replica that loses the database (or dies): it can neither extend nor give up
    its lease any more, so the lease runs out by itself."""

    cut = False

    async def hold(self, name: str, owner: str, seconds: float) -> bool:
        if self.cut:
            raise StorageUnavailable("lease failed: connection lost")
        return await super().hold(name, owner, seconds)

    async def release(self, name: str, owner: str) -> bool:
        if self.cut:
            raise StorageUnavailable("lease release failed: connection lost")
        return await super().release(name, owner)


async def _append(server: Dovecot, subject: str, message_id: str) -> None:
    raw = message(subject, message_id=message_id)
    await asyncio.to_thread(server.append, "INBOX", raw, ())


def _polling(worker: FolderWorker) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return worker.polling

    return probe


def _two_replicas(db: Database, seconds: float, first: LeaseStore) -> tuple[FolderLease, ...]:
    """The folder's lease as replica a (through ``first``) and replica b see it."""
    return (
        FolderLease(first, LEASE, "replica-a", seconds=seconds),
        FolderLease(LeaseStore(db), LEASE, "replica-b", seconds=seconds),
    )


async def test_one_replica_polls_and_another_takes_over_when_it_is_cut_off(
    write_config: ConfigWriter, dovecot: Dovecot, postgres_url: str
) -> None:
    async with running_daemon(write_config(postgres_url, mailboxes=MAILBOXES)) as daemon:
        first_store = _CutOff(daemon.services.db)
        first_lease, second_lease = _two_replicas(daemon.services.db, 1.5, first_store)
        async with running_worker(daemon, account(dovecot), lease=first_lease) as first:
            await eventually(_polling(first), bool)
            async with running_worker(daemon, account(dovecot), lease=second_lease) as second:
                await _append(dovecot, "before", "<1@client.example>")
                await eventually(mail_records, lambda records: len(records) == 1)
                await asyncio.sleep(2)  # more than a lease: extended, never taken over
                assert first.polling and not second.polling

                first_store.cut = True
                await eventually(_polling(second), bool, within=5)
                assert not first.polling
                await _append(dovecot, "after", "<2@client.example>")
                records = await eventually(mail_records, lambda found: len(found) == 2)
                assert sorted(record.meta["uid"] for record in records) == ["1", "2"]


async def test_a_clean_stop_hands_the_folder_over_before_the_lease_runs_out(
    write_config: ConfigWriter, dovecot: Dovecot, postgres_url: str
) -> None:
    async with running_daemon(write_config(postgres_url, mailboxes=MAILBOXES)) as daemon:
        # tries every 3 s; a lease left to run out would keep the folder for 6 s or more
        db = daemon.services.db
        first_lease, second_lease = _two_replicas(db, 9, LeaseStore(db))
        first_running = running_worker(daemon, account(dovecot), lease=first_lease)
        first = await first_running.__aenter__()
        await eventually(_polling(first), bool)
        async with running_worker(daemon, account(dovecot), lease=second_lease) as second:
            await asyncio.sleep(0.5)
            assert not second.polling
            await first_running.__aexit__(None, None, None)  # a clean stop
            await eventually(_polling(second), bool, within=4.5)
            await _append(dovecot, "after", "<3@client.example>")
            await eventually(mail_records, lambda found: len(found) == 1)


async def test_a_daemon_on_postgresql_polls_under_its_instance_name(
    write_config: ConfigWriter, dovecot: Dovecot, postgres_url: str
) -> None:
    loaded = write_config(postgres_url, mailboxes=MAILBOXES, imap={"accounts": [account(dovecot)]})
    async with running_daemon(loaded) as daemon:
        await _append(dovecot, "by the daemon", "<4@client.example>")
        await eventually(mail_records, lambda found: len(found) == 1)
        rows = await daemon.services.db.connection.execute_query_dict(
            "SELECT name, owner FROM leases"
        )
        assert rows == [{"name": LEASE, "owner": daemon.services.instance}]
        metrics = await (await daemon.http.get("/metrics")).text()
        assert 'intake_gateway_imap_polling{account="support",folder="INBOX"} 1.0' in metrics
    # a clean stop gives the folder up for the next replica
    async with running_daemon(write_config(postgres_url, mailboxes=MAILBOXES)) as daemon:
        rows = await daemon.services.db.connection.execute_query_dict("SELECT name FROM leases")
        assert rows == []
