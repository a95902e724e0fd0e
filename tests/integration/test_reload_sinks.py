"""A reload applies sink changes (or refuses with the reason), through the real daemon:
SIGHUP to a daemon process, and POST /api/v1/reload."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from gateway.config.model import load_config
from tests.conftest import ConfigWriter
from tests.integration.daemon import eventually, running_daemon, wait_ready
from tests.integration.fakes.receivers import Receiver
from tests.integration.test_cli import _free_port, daemon_process

ROUTE_TO_TICKETS = (
    "rules:\n  - name: all\n    description: everything opens a ticket\n"
    "    match: {}\n    routes: [tickets]\n"
)


def _sink(url: str, *, enabled: bool) -> dict[str, Any]:
    return {"name": "tickets", "kind": "webhook", "url": url, "enabled": enabled}


def _document(database_url: str, tmp_path: Path, port: int, sinks: list[Any]) -> dict[str, Any]:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "10-route.yaml").write_text(ROUTE_TO_TICKETS)
    return {
        "storage": {"url": database_url},
        "http": {"listen": f"127.0.0.1:{port}"},
        "integrations": [{"name": "generic", "kind": "generic"}],
        "rules": {"dir": str(tmp_path / "rules"), "catalogue": None},
        "logging": {"level": "info", "format": "json"},
        "pipeline": {"recovery_interval_seconds": 0.2},
        "sinks": sinks,
    }


async def _incidents(http: aiohttp.ClientSession, base: str) -> int:
    async with http.get(f"{base}/api/v1/incidents") as response:
        return len((await response.json())["items"])


async def test_sighup_enables_a_sink_and_its_waiting_rows_go_out(
    database_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    path = tmp_path / "gateway.yaml"
    async with Receiver() as receiver:
        document = _document(
            database_url, tmp_path, port, [_sink(f"{receiver.url}/hook", enabled=False)]
        )
        path.write_bytes(orjson.dumps(document))
        with daemon_process(path, tmp_path / "log") as process:
            await wait_ready(f"http://127.0.0.1:{port}", process)
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:
                async with http.post(
                    f"{base}/webhooks/generic", json={"name": "disk", "resource": "db1"}
                ) as response:
                    assert response.status == 202
                await eventually(lambda: _incidents(http, base), lambda n: n == 1)
                await asyncio.sleep(1.0)
                assert receiver.received == []  # disabled: the row waits
                document["sinks"] = [_sink(f"{receiver.url}/hook", enabled=True)]
                path.write_bytes(orjson.dumps(document))
                process.send_signal(signal.SIGHUP)
                await eventually(lambda: _count(receiver), lambda n: n == 1, within=15)
                assert receiver.bodies()[0]  # the incident, as the webhook sink sends it
                await _operator_actions(http, base)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
    log = (tmp_path / "log").read_text()
    reloaded = [orjson.loads(line) for line in log.splitlines() if '"reloaded"' in line]
    assert reloaded and reloaded[0]["by"] == "SIGHUP"
    assert reloaded[0]["sinks"] == {"added": [], "removed": [], "changed": ["tickets"]}
    lines = {entry["event"]: entry for entry in map(orjson.loads, log.splitlines())}
    assert lines["incident_acknowledged"]["author"] == "alice"
    assert lines["incident_acknowledged"]["incident_key"] == "INC-000001"
    assert lines["incident_acknowledged"]["by"] == "loopback@127.0.0.1"
    assert lines["incident_resolved"]["author"] == "bob"
    assert lines["silence_created"]["author"] == "carol"
    assert lines["silence_expired"]["silence_id"] == lines["silence_created"]["silence_id"]
    assert lines["reloaded"]["by"] == "loopback@127.0.0.1"  # the second reload, by the API
    assert all(entry["level"] == "info" for name, entry in lines.items() if name in OPERATOR)
    assert "SECRET-COMMENT" not in log


OPERATOR = ("incident_acknowledged", "incident_resolved", "silence_created", "silence_expired")


async def _operator_actions(http: aiohttp.ClientSession, base: str) -> None:
    """Acknowledge, resolve, silence and unsilence, reload: each logged with who did it."""
    note = {"comment": "SECRET-COMMENT"}
    for action, author in (("acknowledge", "alice"), ("resolve", "bob")):
        async with http.post(
            f"{base}/api/v1/incidents/INC-000001/{action}", json={"author": author, **note}
        ) as response:
            assert response.status == 200, await response.text()
    silence = {
        "matchers": [{"name": "resource", "value": "db9"}],
        "ends_at": "2099-01-01T00:00:00Z",
        "author": "carol",
        **note,
    }
    async with http.post(f"{base}/api/v1/silences", json=silence) as response:
        created = await response.json()
    async with http.delete(f"{base}/api/v1/silences/{created['id']}") as response:
        assert response.status == 200
    async with http.post(f"{base}/api/v1/reload") as response:
        assert response.status == 200


async def _count(receiver: Receiver) -> int:
    return len(receiver.received)


async def test_api_reload_moves_a_sink_refuses_restart_options_and_reports_removed_rows(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "10-route.yaml").write_text(ROUTE_TO_TICKETS)
    async with Receiver() as old, Receiver() as new:
        loaded = write_config(database_url, sinks=[_sink(f"{old.url}/hook", enabled=False)])
        document = orjson.loads(loaded.path.read_bytes())
        async with running_daemon(loaded) as daemon:
            await daemon.post_json("/webhooks/generic", {"name": "disk", "resource": "db1"})
            await eventually(daemon.incidents, lambda items: len(items) == 1)

            # a new URL and enabled: the waiting row goes to the new receiver
            document["sinks"] = [_sink(f"{new.url}/hook", enabled=True)]
            loaded.path.write_bytes(orjson.dumps(document))
            status, body = await daemon.post_json("/api/v1/reload", {})
            assert status == 200, body
            assert body["sinks"] == {"added": [], "removed": [], "changed": ["tickets"]}
            await eventually(lambda: _count(new), lambda n: n == 1)
            assert old.received == []

            # storage.url and the listen address are read at start: refused, nothing applied
            moved = {**document, "storage": {"url": f"sqlite://{tmp_path}/other.sqlite3"}}
            moved["http"] = {**document["http"], "listen": "127.0.0.1:1"}
            moved["sinks"] = [_sink(f"{old.url}/hook", enabled=True)]
            loaded.path.write_bytes(orjson.dumps(moved))
            status, body = await daemon.post_json("/api/v1/reload", {})
            assert status == 422 and body["error"] == "restart_required", body
            named = " ".join(body["problems"])
            assert "storage: changed" in named and "http.listen: changed" in named
            assert all(problem.startswith(f"{loaded.path}:") for problem in body["problems"])
            await daemon.post_json("/webhooks/generic", {"name": "cpu", "resource": "db2"})
            await eventually(lambda: _count(new), lambda n: n == 2)  # the old sinks stay
            assert old.received == []

            # the sink removed (and the rule that routed to it): its rows stay and are reported
            document["sinks"] = [_sink(f"{new.url}/hook", enabled=False)]
            loaded.path.write_bytes(orjson.dumps(document))
            assert (await daemon.post_json("/api/v1/reload", {}))[0] == 200
            await daemon.post_json("/webhooks/generic", {"name": "mem", "resource": "db3"})
            await eventually(daemon.incidents, lambda items: len(items) == 3)
            (tmp_path / "rules" / "10-route.yaml").write_text("rules: []\n")
            document["sinks"] = []
            loaded.path.write_bytes(orjson.dumps(document))
            status, body = await daemon.post_json("/api/v1/reload", {})
            assert status == 200, body
            assert body["sinks"]["removed"] == ["tickets"]
            assert body["kept_rows"] == {"tickets": 1}
            await daemon.services.dispatcher.refresh_depth()
            async with daemon.http.get("/metrics") as response:
                metrics = await response.text()
            assert 'intake_gateway_outbox_depth{sink="unconfigured"} 1.0' in metrics
            assert 'sink="tickets"' not in metrics.split("outbox_depth", 1)[1].split("# HELP")[0]
    assert load_config(loaded.path).config.sinks == ()


async def test_a_reload_adds_a_new_sink_and_a_dead_letter_retry_is_logged_with_who(
    database_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    path = tmp_path / "gateway.yaml"
    async with Receiver(status=400) as refusing, Receiver() as pager:
        tickets = {"name": "tickets", "kind": "webhook", "url": f"{refusing.url}/hook"}
        document = _document(database_url, tmp_path, port, [tickets])
        path.write_bytes(orjson.dumps(document))
        with daemon_process(path, tmp_path / "log") as process:
            await wait_ready(f"http://127.0.0.1:{port}", process)
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:
                await _post_alert(http, base, "db1")
                letters = await eventually(lambda: _dead_letters(http, base), bool)
                async with http.post(
                    f"{base}/api/v1/deadletters/{letters[0]['id']}/retry"
                ) as response:
                    assert response.status == 202, await response.text()

                # a sink the running config never had, and a rule that routes to it
                (tmp_path / "rules" / "10-route.yaml").write_text(
                    ROUTE_TO_TICKETS.replace("[tickets]", "[tickets, pager]")
                )
                added = {"name": "pager", "kind": "webhook", "url": f"{pager.url}/page"}
                document["sinks"] = [tickets, added]
                path.write_bytes(orjson.dumps(document))
                async with http.post(f"{base}/api/v1/reload") as response:
                    body = await response.json()
                    assert response.status == 200, body
                assert body["sinks"] == {"added": ["pager"], "removed": [], "changed": []}
                await _post_alert(http, base, "db2")
                await eventually(lambda: _count(pager), lambda n: n == 1)
                assert pager.bodies()[0]["incident"]["key"] == "INC-000002"
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
    lines = {entry["event"]: entry for entry in map(orjson.loads, (tmp_path / "log").open())}
    retried = lines["dead_letter_retried"]
    assert retried["level"] == "info" and retried["by"] == "loopback@127.0.0.1"
    assert retried["outbox_id"] == letters[0]["id"]


async def _post_alert(http: aiohttp.ClientSession, base: str, resource: str) -> None:
    alert = {"name": "disk", "resource": resource}
    async with http.post(f"{base}/webhooks/generic", json=alert) as response:
        assert response.status == 202


async def _dead_letters(http: aiohttp.ClientSession, base: str) -> list[dict[str, Any]]:
    async with http.get(f"{base}/api/v1/deadletters") as response:
        return list((await response.json())["items"])
