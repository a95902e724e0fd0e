"""A dispatcher in its own process, for the kill -9 test.

``python -m tests.integration.outbox_worker DB_URL JIRA_URL SNOW_URL``: runs
the dispatcher with a Jira and a ServiceNow sink until no row is pending,
then exits 0.
"""

from __future__ import annotations

import asyncio
import os
import sys

import aiohttp

from gateway.forwarding.dispatcher import DispatchSettings, build_dispatcher
from gateway.metrics import Metrics
from storage.database import Database, DatabaseSettings
from storage.outbox import OutboxStore
from tests.integration.forwarding import RealClock, sink

SETTINGS = DispatchSettings(lease_seconds=2.0, poll_seconds=0.05, depth_seconds=60)


async def main(db_url: str, jira_url: str, snow_url: str) -> int:
    common = {"timeout_seconds": 5, "max_in_flight": 16, "retry": {"base_seconds": 0.05}}
    sinks = [
        sink(
            name="jira",
            kind="jira",
            url=jira_url,
            token={"value": "jira-token"},
            project="OPS",
            **common,
        ),
        sink(
            name="snow",
            kind="servicenow",
            url=snow_url,
            username="gw",
            password={"value": "pw"},
            **common,
        ),
    ]
    db = Database(DatabaseSettings(url=db_url))
    await db.open()
    try:
        dispatcher = build_dispatcher(
            sinks,
            db,
            Metrics(),
            RealClock(),
            aiohttp.ClientSession,
            owner=f"worker-{os.getpid()}",
            settings=SETTINGS,
        )
        store = OutboxStore(db, "probe")
        async with dispatcher.running():
            print("running", flush=True)
            while True:
                depth = await store.depth()
                if sum(item.pending for item in depth.values()) == 0:
                    return 0
                await asyncio.sleep(0.1)
    finally:
        await db.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
