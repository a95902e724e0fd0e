"""Merging a duplicate incident into its survivor through the real HTTP listener, on
both engines: the events and their counts move, the duplicate's correlation key and
fingerprints lead new alerts to the survivor (which then resolves when all of them
recover), both timelines and the audit log name the person, the duplicate's ticket is
resolved saying where it went and the survivor's gets a comment; every refusal has
its answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from storage import audit, models
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.forwarding import ticket_receiver
from tests.integration.mail_support import MAILBOXES, message, send_mail, smtp_section

RULES = """
settings:
  default_routes: [tickets]
  close_after: 1s
rules:
  - name: by-host
    description: one incident per host
    match: {kind: generic}
    correlate: {key: "host:{resource}"}
"""
DISK_DB1 = {"name": "disk full", "resource": "db1", "severity": "critical"}
DISK_DB2 = {"name": "disk full", "resource": "db2", "severity": "critical"}
CPU_DB1 = {"name": "cpu high", "resource": "db1", "severity": "critical"}
MERGE = "/api/v1/incidents/{}/merge"


@pytest.fixture
async def merging(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[RunningDaemon, list[dict[str, Any]]]]:
    """The daemon with disk alerts open on db1 (INC-000001) and db2 (INC-000002), and
    what its ticket system received."""
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "00-rules.yaml").write_text(RULES)
    async with ticket_receiver() as (url, received):
        sink = {"name": "tickets", "kind": "webhook", "url": url, "comment_interval_seconds": 0}
        loaded = write_config(
            database_url,
            sinks=[sink],
            smtp=smtp_section(),
            mailboxes=MAILBOXES,
            pipeline={"recovery_interval_seconds": 0.2, "periodic_interval_seconds": 0.2},
        )
        async with running_daemon(loaded) as daemon:
            # one after the other: db1 is INC-000001
            await _alert(daemon, DISK_DB1)
            await eventually(daemon.incidents, lambda items: len(items) == 1)
            await _alert(daemon, DISK_DB2)
            await eventually(daemon.incidents, lambda items: len(items) == 2)
            yield daemon, received


async def _incident(daemon: RunningDaemon, key: str) -> dict[str, Any]:
    status, body = await daemon.get_json(f"/api/v1/incidents/{key}")
    assert status == 200, body
    return dict(body)


async def _alert(daemon: RunningDaemon, alert: dict[str, Any], **more: Any) -> None:
    assert (await daemon.post_json("/webhooks/generic", {**alert, **more}))[0] == 202


async def test_the_duplicate_closes_into_the_survivor_and_new_alerts_follow(
    merging: tuple[RunningDaemon, list[dict[str, Any]]],
) -> None:
    daemon, received = merging
    await eventually(lambda: _async(len(received)), (2).__le__)  # both tickets opened
    status, body = await daemon.post_json(
        MERGE.format("INC-000001"),
        {"into": "inc-000002", "author": "alice", "comment": "one outage"},
    )
    assert status == 200, body
    assert (body["key"], body["status"]) == ("INC-000001", "closed")
    assert (body["merged_into_id"], body["merged_into"]) == (2, "INC-000002")
    assert body["firing_events"] == 0 and body["closed_at"] is not None

    duplicate = await _incident(daemon, "INC-000001")
    survivor = await _incident(daemon, "INC-000002")
    assert duplicate["events"] == []
    assert {e["resource"] for e in survivor["events"]} == {"db1", "db2"}
    assert (survivor["event_count"], survivor["firing_events"]) == (2, 2)
    assert survivor["status"] == "new" and survivor["merged_into"] is None
    [gone] = [e for e in duplicate["timeline"] if e["kind"] == "merged"]
    assert (gone["author"], gone["text"]) == ("alice", "merged into INC-000002\none outage")
    assert gone["visibility"] == "public"
    [kept] = [e for e in survivor["timeline"] if e["kind"] == "merged_in"]
    assert kept["author"] == "alice"
    assert kept["text"] == "INC-000001 merged into this incident\none outage"
    assert kept["data"] == {"from": 1, "from_key": "INC-000001", "events": 1}

    [row] = [r for r in await audit.entries(daemon.services.db) if r["subject"] == "INC-000001"]
    assert (row["action"], row["actor"], row["via"]) == (
        "incident.merged",
        "alice",
        "loopback@127.0.0.1",
    )
    assert row["details"] == {"into": "INC-000002", "events": 1, "comment": True}
    assert (await audit.verify(daemon.services.db)).intact

    outbox = await models.OutboxRow.filter(action__in=["resolve", "comment"]).order_by("id")
    assert [(r.incident_id, r.sink, r.action) for r in outbox] == [
        (1, "tickets", "resolve"),
        (2, "tickets", "comment"),
    ]
    assert outbox[0].payload == {
        "text": "Merged into INC-000002\none outage",
        "author": "alice",
    }
    assert outbox[1].payload["text"] == "INC-000001 merged into this incident\none outage"
    delivered = await eventually(
        lambda: _async([(r["incident"]["key"], r["action"]) for r in received[2:]]),
        lambda found: len(found) >= 2,
    )
    assert sorted(delivered) == [("INC-000001", "resolve"), ("INC-000002", "comment")]
    [note] = [r["notes"] for r in received if r["action"] == "resolve"]
    assert note == ["alice:\nMerged into INC-000002\none outage"]

    # the duplicate's alert recovers and fires again: on the survivor, not a reopening
    await _alert(daemon, DISK_DB1, status="ok")
    await eventually(
        lambda: _incident(daemon, "INC-000002"), lambda found: found["firing_events"] == 1
    )
    await _alert(daemon, DISK_DB1, again=1)
    # a new alert of the duplicate's correlation key (host:db1) joins the survivor too
    await _alert(daemon, CPU_DB1)
    survivor = await eventually(
        lambda: _incident(daemon, "INC-000002"), lambda found: found["firing_events"] == 3
    )
    assert survivor["event_count"] == 5 and survivor["status"] == "new"
    assert len(await daemon.incidents()) == 2
    duplicate = await _incident(daemon, "INC-000001")
    assert (duplicate["status"], duplicate["event_count"]) == ("closed", 1)

    # the survivor resolves once every alert, the duplicate's too, has recovered
    for alert in (DISK_DB1, CPU_DB1):
        await _alert(daemon, alert, status="ok", last=1)
    await eventually(
        lambda: _incident(daemon, "INC-000002"), lambda found: found["firing_events"] == 1
    )
    assert (await _incident(daemon, "INC-000002"))["status"] == "new"
    await _alert(daemon, DISK_DB2, status="ok")
    resolved = await eventually(
        lambda: _incident(daemon, "INC-000002"), lambda found: found["status"] == "resolved"
    )
    assert resolved["firing_events"] == 0
    assert (await _incident(daemon, "INC-000001"))["status"] == "closed"


async def test_merges_that_cannot_be_are_refused_with_the_reason(
    merging: tuple[RunningDaemon, list[dict[str, Any]]],
) -> None:
    daemon, _ = merging
    await _alert(daemon, {**DISK_DB1, "resource": "db3"})
    await _alert(daemon, {**DISK_DB1, "resource": "db4"})
    await eventually(daemon.incidents, lambda items: len(items) == 4)

    async def merge(ident: str, body: Any) -> tuple[int, dict[str, Any]]:
        return await daemon.post_json(MERGE.format(ident), body)

    refusals = [
        ("INC-000001", {"into": "INC-000001"}, 409, "INC-000001 cannot be merged into itself"),
        ("INC-000001", {"into": "1"}, 409, "INC-000001 cannot be merged into itself"),
        ("INC-000001", {"into": 2}, 400, None),
        ("INC-000001", {"into": "INC-999999"}, 422, "no incident INC-999999 to merge into"),
        ("INC-999999", {"into": "INC-000002"}, 404, "no such incident"),
        ("INC-000001", {}, 400, None),
        ("INC-000001", {"into": True}, 400, None),
        ("INC-000001", {"into": "INC-000002", "x": 1}, 400, None),
    ]
    for ident, body, status, reason in refusals:
        answer = await merge(ident, body)
        assert answer[0] == status, (ident, body, answer)
        if reason is not None:
            assert answer[1]["message"] == reason
    assert (await merge("3", {"into": "2"}))[0] == 200
    again = await merge("INC-000003", {"into": "INC-000002"})  # the same pair: no change
    assert again[0] == 200 and again[1]["merged_into"] == "INC-000002"
    chained = [
        # a chain: the answer names the incident to merge into instead
        ("INC-000001", "INC-000003", "INC-000003 is merged into INC-000002: merge into "),
        ("INC-000003", "INC-000004", "INC-000003 is merged into INC-000002 already"),
    ]
    for ident, into, reason in chained:
        status, body = await merge(ident, {"into": into})
        assert (status, body["error"]) == (409, "conflict")
        assert body["message"].startswith(reason), body

    # into a closed incident: INC-000004 resolved, then closed by the periodic job
    status, _ = await daemon.post_json("/api/v1/incidents/INC-000004/resolve", {})
    assert status == 200
    await eventually(
        lambda: _incident(daemon, "INC-000004"), lambda found: found["status"] == "closed"
    )
    status, body = await merge("INC-000001", {"into": "INC-000004"})
    assert (status, body["message"]) == (
        409,
        "INC-000004 is closed: merge into an incident still in work",
    )
    status, body = await merge("INC-000004", {"into": "INC-000002"})
    assert (status, body["message"]) == (409, "INC-000004 is closed")

    merged = [
        e for e in await audit.entries(daemon.services.db) if e["action"] == "incident.merged"
    ]
    assert [e["subject"] for e in merged] == ["INC-000003"]  # once, not for the repeat
    states = {item["key"]: item["status"] for item in await daemon.incidents()}
    assert states == {
        "INC-000001": "new",
        "INC-000002": "new",
        "INC-000003": "closed",
        "INC-000004": "closed",
    }


async def test_a_mail_reply_to_the_duplicate_lands_on_the_survivor(
    merging: tuple[RunningDaemon, list[dict[str, Any]]],
) -> None:
    daemon, _ = merging
    assert (await daemon.post_json(MERGE.format("INC-000001"), {"into": "INC-000002"}))[0] == 200
    raw = message(
        "RE: [INC-000001] disk full",
        message_id="<reply-merged@client.example>",
        sender="bob@client.example",
        body="Still full after the cleanup.",
    )
    await send_mail(daemon, "bob@client.example", raw)
    survivor = await eventually(
        lambda: _incident(daemon, "INC-000002"),
        lambda found: any(e["kind"] == "comment" for e in found["timeline"]),
    )
    [comment] = [e for e in survivor["timeline"] if e["kind"] == "comment"]
    assert "Still full after the cleanup." in comment["text"]
    assert len(await daemon.incidents()) == 2
    duplicate = await _incident(daemon, "INC-000001")
    assert duplicate["status"] == "closed"
    assert [e["kind"] for e in duplicate["timeline"]] == ["opened", "merged"]


async def test_a_merge_while_the_duplicates_alerts_pour_in_keeps_every_count(
    merging: tuple[RunningDaemon, list[dict[str, Any]]],
) -> None:
    """The merge locks the duplicate's events before the incidents, as the pipeline
    does: no deadlock, and every alert ends on the survivor exactly once."""
    daemon, _ = merging
    alerts = [
        *({**DISK_DB1, "repeat": n} for n in range(10)),  # repeats of the duplicate's alert
        *({**CPU_DB1, "name": f"cpu {n}"} for n in range(10)),  # new alerts of its key
    ]

    async def merge() -> tuple[int, dict[str, Any]]:
        await asyncio.sleep(0.02)
        return await daemon.post_json(MERGE.format("INC-000001"), {"into": "INC-000002"})

    *posted, merged = await asyncio.gather(
        *(daemon.post_json("/webhooks/generic", alert) for alert in alerts), merge()
    )
    assert [status for status, _ in posted] == [202] * 20
    assert merged[0] == 200, merged
    survivor = await eventually(
        lambda: _incident(daemon, "INC-000002"), lambda found: found["event_count"] == 22
    )
    firing = [e for e in survivor["events"] if e["status"] == "firing"]
    assert survivor["firing_events"] == len(firing) == 12
    assert len(await daemon.incidents()) == 2


async def _async(value: Any) -> Any:
    return value
