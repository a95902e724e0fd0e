"""Live updates through the real HTTP listener: a console's event stream names the
incident a webhook alert opens, and then the one an operator acknowledges; the
stream needs a session; the daemon stops without waiting for open streams."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from tests.conftest import ConfigWriter
from tests.integration.console_support import console_section, log_in, person_client
from tests.integration.daemon import eventually, running_daemon


async def _next_change(stream: aiohttp.ClientResponse, within: float = 10.0) -> list[int]:
    deadline = time.monotonic() + within
    event = ""
    while time.monotonic() < deadline:
        line = (await asyncio.wait_for(stream.content.readline(), within)).decode().strip()
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "changed":
            found: list[int] = json.loads(line[6:])
            return found
    raise AssertionError("no change event")


async def test_a_console_that_goes_away_is_no_fault(
    write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    """A change announced to a stream whose console left was logged as a failed
    request with a traceback (ClientConnectionResetError) before."""
    loaded = write_config(console=console_section())
    async with running_daemon(loaded) as daemon, person_client(daemon.base_url) as client:
        assert await log_in(client, "olga") == 303
        stream = await client.get("/ui/stream")
        await asyncio.sleep(2.5)  # the feed has read the timeline's head
        stream.close()  # the page is left
        alert = {"name": "disk full", "resource": "db1", "severity": "critical"}
        assert (await daemon.post_json("/webhooks/generic", alert))[0] == 202
        await eventually(daemon.incidents, lambda items: len(items) == 1)
        await asyncio.sleep(4.5)  # announced (and a second notice) after the poll
    assert "http_request_failed" not in capsys.readouterr().out


async def test_stream_names_changed_incidents(write_config: ConfigWriter) -> None:
    loaded = write_config(console=console_section(), lifecycle={"drain_seconds": 20})
    alert = {"name": "disk full", "resource": "db1", "severity": "critical"}
    started = time.monotonic()
    async with running_daemon(loaded) as daemon, person_client(daemon.base_url) as client:
        async with client.get("/ui/stream", allow_redirects=False) as response:
            assert response.status == 303  # no session yet
        assert await log_in(client, "olga") == 303
        stream = await client.get("/ui/stream")
        assert stream.status == 200
        assert stream.headers["Content-Type"] == "text/event-stream"
        await asyncio.sleep(2.5)  # the feed has read the timeline's head
        assert (await daemon.post_json("/webhooks/generic", alert))[0] == 202
        [incident] = await eventually(daemon.incidents, lambda items: len(items) == 1)
        assert await _next_change(stream) == [incident["id"]]
        status, _ = await daemon.post_json(
            f"/api/v1/incidents/{incident['id']}/acknowledge", {"author": "api"}
        )
        assert status == 200
        assert await _next_change(stream) == [incident["id"]]
        started = time.monotonic()
    # the open stream did not hold the shutdown (up to the 20 s drain deadline)
    assert time.monotonic() - started < 5
    stream.close()
