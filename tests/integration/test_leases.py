"""Leases for work one replica at a time does, on both engines."""

from __future__ import annotations

import asyncio

from storage.database import Database, Dialect
from storage.leases import LeaseStore


async def test_one_owner_at_a_time_until_it_releases_or_its_lease_runs_out(db: Database) -> None:
    store = LeaseStore(db)
    if db.dialect is Dialect.SQLITE:  # one daemon per file: nobody to share with
        assert not store.shared
        assert await store.hold("imap:a:INBOX", "one", 30)
        assert await store.hold("imap:a:INBOX", "two", 30)
        return
    assert store.shared
    assert await store.hold("imap:a:INBOX", "one", 30)
    assert not await store.hold("imap:a:INBOX", "two", 30)
    assert await store.hold("imap:a:INBOX", "one", 30)  # extended by its owner
    assert await store.hold("imap:b:INBOX", "two", 30)  # another folder, another lease
    assert not await store.release("imap:a:INBOX", "two")  # not its lease to give up
    assert await store.release("imap:a:INBOX", "one")
    assert await store.hold("imap:a:INBOX", "two", 0.3)  # free at once
    assert not await store.hold("imap:a:INBOX", "one", 30)
    await asyncio.sleep(0.5)
    assert await store.hold("imap:a:INBOX", "one", 30)  # two's ran out
