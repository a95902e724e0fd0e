"""ServiceNow, Zammad, PagerDuty, webhook and chat robots, through the dispatcher."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from core.outbox import OutboxAction
from storage import models
from storage.database import Database
from storage.outbox import OutboxStore
from tests.integration.daemon import eventually
from tests.integration.fakes.receivers import FakePagerDuty, Receiver
from tests.integration.fakes.server import Fault
from tests.integration.fakes.servicenow import FakeServiceNow
from tests.integration.fakes.zammad import FakeZammad
from tests.integration.forwarding import (
    RealClock,
    dispatching,
    new_incident,
    outbox_states,
    queue,
    settled,
    sink,
    sqlite_database,
)

FAST_RETRY = {"base_seconds": 0.05, "cap_seconds": 0.2}
LIFECYCLE = (
    OutboxAction.CREATE,
    OutboxAction.UPDATE,
    OutboxAction.COMMENT,
    OutboxAction.RESOLVE,
    OutboxAction.REOPEN,
    OutboxAction.CLOSE,
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with sqlite_database(str(tmp_path)) as database:
        yield database


def common(name: str, kind: str, **fields: Any) -> Any:
    return sink(
        name=name,
        kind=kind,
        timeout_seconds=0.5,
        retry=FAST_RETRY,
        comment_interval_seconds=0,
        **fields,
    )


async def queue_lifecycle(db: Database, incident_id: int, sink_name: str) -> None:
    for action in LIFECYCLE:
        payload: dict[str, Any] = {}
        if action is OutboxAction.UPDATE:
            payload = {"changes": {"priority": ["P3", "P2"], "status": ["new", "acknowledged"]}}
        if action is OutboxAction.COMMENT:
            payload = {"text": "customer says it works again", "author": "ann@example.com"}
        await queue(db, incident_id, sink_name, action, f"{sink_name}:{action}", **payload)


async def test_servicenow_lifecycle_and_lookup_after_a_reset(db: Database) -> None:
    async with FakeServiceNow() as snow:
        snow.fail(Fault("POST", "/api/now/table/incident", reset=True))  # created, no answer
        incident_id, key = await new_incident(db, impact=1, urgency=2)
        await queue_lifecycle(db, incident_id, "snow")
        config = common("snow", "servicenow", url=snow.url, username="gw", password={"value": "pw"})
        async with dispatching(db, [config], RealClock()):
            states = await settled(db, len(LIFECYCLE))
    assert set(states.values()) == {"delivered"}
    (record,) = snow.records.values()
    assert record["correlation_id"] == key
    assert (record["impact"], record["urgency"]) == ("1", "2")
    assert record["state"] == "7"  # closed last
    assert record["close_code"] == "Solved (Permanently)"
    notes = snow.work_notes[record["sys_id"]]
    assert any("ann@example.com:\ncustomer says it works again" in note for note in notes)
    ref = await models.ExternalRef.get(incident_id=incident_id, sink="snow")
    assert ref.ticket_id == record["sys_id"]


def zammad_sink(zammad: FakeZammad) -> Any:
    token = {"value": zammad.token}
    return common(
        "zammad", "zammad", url=zammad.url, token=token, group="Users", customer="ops@x.org"
    )


async def test_zammad_lifecycle(db: Database) -> None:
    async with FakeZammad() as zammad:
        incident_id, key = await new_incident(db, priority="P1")
        await queue_lifecycle(db, incident_id, "zammad")
        config = zammad_sink(zammad)
        async with dispatching(db, [config], RealClock()):
            states = await settled(db, len(LIFECYCLE))
    assert set(states.values()) == {"delivered"}
    (ticket,) = zammad.tickets.values()
    assert ticket["title"].startswith(f"[{key}]")
    assert ticket["state"] == "closed" and ticket["priority"] == "3 high"
    assert len(zammad.articles[ticket["id"]]) >= 3  # description, update, comment...


async def test_zammad_finds_its_ticket_again_instead_of_creating_a_second(db: Database) -> None:
    async with FakeZammad() as zammad:
        zammad.fail(Fault("POST", "/api/v1/tickets", late_seconds=1.0))
        incident_id, _ = await new_incident(db)
        await queue(db, incident_id, "zammad", OutboxAction.CREATE, "create")
        config = zammad_sink(zammad)
        async with dispatching(db, [config], RealClock()):
            await settled(db, 1)
    assert len(zammad.tickets) == 1
    assert ("GET", "/api/v1/tickets/search") in zammad.requests


async def test_pagerduty_trigger_acknowledge_resolve_on_one_dedup_key(db: Database) -> None:
    async with FakePagerDuty() as pager:
        incident_id, key = await new_incident(db, priority="P1")
        await queue(db, incident_id, "pd", OutboxAction.CREATE, "c")
        await queue(
            db,
            incident_id,
            "pd",
            OutboxAction.UPDATE,
            "u",
            changes={"status": ["new", "acknowledged"]},
        )
        await queue(db, incident_id, "pd", OutboxAction.RESOLVE, "r")
        config = common(
            "pd",
            "pagerduty",
            url=f"{pager.url}/v2/enqueue",
            routing_key={"value": pager.routing_key},
        )
        async with dispatching(db, [config], RealClock()):
            await settled(db, 3)
    assert [e["event_action"] for e in pager.events] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in pager.events} == {key}
    assert pager.events[0]["payload"]["severity"] == "critical"
    assert pager.alerts == {key: "resolved"}


async def test_webhook_is_signed_and_carries_the_idempotency_key(db: Database) -> None:
    async with Receiver() as receiver:
        incident_id, key = await new_incident(db, 'quote " and\nnewline')
        await queue(db, incident_id, "hook", OutboxAction.CREATE, "create-key")
        config = common(
            "hook",
            "webhook",
            url=f"{receiver.url}/in",
            secret={"value": "s3cret"},
            headers={"X-Team": "ops"},
        )
        async with dispatching(db, [config], RealClock()):
            await settled(db, 1)
    ((request, body),) = receiver.received
    assert request.headers["Idempotency-Key"] == "create-key"
    assert request.headers["X-Team"] == "ops"
    stamp = request.headers["X-Timestamp"]
    expected = hmac.new(b"s3cret", stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert request.headers["X-Signature"] == f"sha256={expected}"
    (sent,) = receiver.bodies()
    assert sent["action"] == "create"
    assert sent["incident"]["key"] == key
    assert sent["incident"]["title"] == 'quote " and\nnewline'  # JSON-safe, not broken


async def test_template_error_dead_letters_that_row_with_its_line_others_flow(
    db: Database, tmp_path: Path
) -> None:
    template = tmp_path / "body.json.j2"
    template.write_text(
        '{\n  "key": {{ incident.key | tojson }},\n'
        '  "extra": {% if incident.priority == "P1" %}{{ incident.no_such_field }}'
        "{% else %}0{% endif %}\n}\n"
    )
    async with Receiver() as receiver:
        bad, _ = await new_incident(db, "bad", priority="P1")
        good, good_key = await new_incident(db, "good", priority="P3")
        await queue(db, bad, "hook", OutboxAction.CREATE, "bad")
        await queue(db, good, "hook", OutboxAction.CREATE, "good")
        config = common("hook", "webhook", url=receiver.url, templates={"body": str(template)})
        async with dispatching(db, [config], RealClock()):
            states = await settled(db, 2)
    assert states == {"bad": "dead", "good": "delivered"}
    assert receiver.bodies() == [{"key": good_key, "extra": 0}]
    (dead,) = await OutboxStore(db, "t").dead_letters()
    assert "webhook_body.json.j2" in dead.last_error and "line 3" in dead.last_error
    assert "no_such_field" in dead.last_error


async def test_429_waits_as_long_as_retry_after_says(db: Database) -> None:
    async with Receiver() as receiver:
        receiver.fail(Fault(status=429, headers={"Retry-After": "120"}, body="slow down"))
        incident_id, _ = await new_incident(db)
        await queue(db, incident_id, "hook", OutboxAction.CREATE, "create")
        config = common("hook", "webhook", url=receiver.url)
        clock = RealClock()
        async with dispatching(db, [config], clock):
            row = await eventually(
                lambda: models.OutboxRow.get(idempotency_key="create"),
                lambda row: row.last_error is not None,
            )
    assert row.state == "pending" and row.response == "slow down"
    assert (row.next_attempt_at - clock()).total_seconds() > 110


async def test_open_circuit_hands_rows_to_the_fallback_and_dead_letters_too(db: Database) -> None:
    async with Receiver() as primary, Receiver() as fallback:
        await primary.stop()
        incident_id, key = await new_incident(db)
        await queue(db, incident_id, "primary", OutboxAction.CREATE, "create")
        configs = [
            common(
                "primary", "webhook", url=primary.url, fallback="backup", circuit={"failures": 1}
            ),
            common("backup", "webhook", url=fallback.url),
        ]
        async with dispatching(db, configs, RealClock()) as running:
            await eventually(lambda: _received(fallback), lambda n: n >= 1)
            assert running.sample("intake_gateway_outbox_circuit_state", {"sink": "primary"}) == 2
        (sent,) = fallback.bodies()
        assert sent["incident"]["key"] == key
    states = await outbox_states(db)
    assert states["create"] == "pending"  # the primary still gets it once it is back
    assert states["create:fallback:backup"] == "delivered"


async def _received(receiver: Receiver) -> int:
    return len(receiver.received)


async def test_rate_limited_updates_queue_and_coalesce_never_dropped(db: Database) -> None:
    async with Receiver() as receiver:
        incident_id, _ = await new_incident(db)
        await queue(db, incident_id, "hook", OutboxAction.CREATE, "create")
        for n in range(5):
            await queue(db, incident_id, "hook", OutboxAction.COMMENT, f"c{n}", occurrences=1)
        config = common("hook", "webhook", url=receiver.url, rate_limit={"per_second": 2})
        async with dispatching(db, [config], RealClock()):
            states = await settled(db, 6)
    assert set(states.values()) == {"delivered"}
    bodies = receiver.bodies()
    assert [b["action"] for b in bodies] == ["create", "comment"]
    assert bodies[1]["occurrences"] == 5


async def test_comments_are_throttled_and_summarised(db: Database) -> None:
    from tests.integration.forwarding import FakeClock

    clock = FakeClock()
    async with Receiver() as receiver:
        incident_id, _ = await new_incident(db)
        config = sink(name="hook", kind="webhook", url=receiver.url, comment_interval_seconds=300)
        async with dispatching(db, [config], clock) as running:
            await queue(
                db, incident_id, "hook", OutboxAction.COMMENT, "c0", now=clock.now, occurrences=1
            )
            await eventually(lambda: _received(receiver), lambda n: n == 1)
            for n in range(1, 4):
                clock.advance(10)
                await queue(
                    db,
                    incident_id,
                    "hook",
                    OutboxAction.COMMENT,
                    f"c{n}",
                    now=clock.now,
                    occurrences=2,
                )
            running.dispatcher.wake()
            await eventually(
                lambda: outbox_states(db),
                lambda s: (
                    s["c1"] == "pending"
                    and running.sample(
                        "intake_gateway_outbox_deliveries_total",
                        {"sink": "hook", "outcome": "deferred"},
                    )
                    >= 1
                ),
            )
            assert len(receiver.received) == 1
            clock.advance(300)
            running.dispatcher.wake()
            await eventually(lambda: _received(receiver), lambda n: n == 2)
    assert [b["occurrences"] for b in receiver.bodies()] == [1, 6]


async def test_a_resolve_is_not_held_behind_a_throttled_comment(db: Database) -> None:
    from tests.integration.forwarding import FakeClock

    clock = FakeClock()
    async with Receiver() as receiver:
        incident_id, _ = await new_incident(db)
        config = sink(name="hook", kind="webhook", url=receiver.url, comment_interval_seconds=300)
        async with dispatching(db, [config], clock) as running:
            await queue(
                db, incident_id, "hook", OutboxAction.COMMENT, "c0", now=clock.now, occurrences=1
            )
            await eventually(lambda: _received(receiver), lambda n: n == 1)
            clock.advance(10)
            await queue(
                db, incident_id, "hook", OutboxAction.COMMENT, "c1", now=clock.now, occurrences=1
            )
            await queue(db, incident_id, "hook", OutboxAction.RESOLVE, "r", now=clock.now)
            running.dispatcher.wake()
            # the clock stands still: only skipping the throttle delivers these
            states = await eventually(
                lambda: outbox_states(db), lambda s: s["c1"] == s["r"] == "delivered"
            )
            assert states["c0"] == "delivered"
    assert len(receiver.received) == 3


def _dingtalk_sign(secret: str, stamp: str) -> str:
    digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


async def test_chat_robots_get_their_own_formats_and_signatures(db: Database) -> None:
    async with (
        Receiver({"ok": True}) as slack,
        Receiver({}) as teams,
        Receiver({"errcode": 0, "errmsg": "ok"}) as dingtalk,
        Receiver({"errcode": 0, "errmsg": "ok"}) as wecom,
        Receiver({"code": 0, "msg": "success"}) as feishu,
    ):
        incident_id, key = await new_incident(db, "db down", priority="P2")
        names = ("slack", "teams", "dingtalk", "wecom", "feishu")
        for name in names:
            await queue(db, incident_id, name, OutboxAction.CREATE, f"{name}:create")
        configs = [
            common("slack", "slack", url={"value": f"{slack.url}/services/T/B/X"}),
            common("teams", "teams", url={"value": f"{teams.url}/webhook"}),
            common(
                "dingtalk",
                "dingtalk",
                url={"value": f"{dingtalk.url}/robot/send?access_token=t"},
                secret={"value": "SECdt"},
            ),
            common("wecom", "wecom", url={"value": f"{wecom.url}/cgi-bin/webhook/send?key=k"}),
            common(
                "feishu",
                "feishu",
                url={"value": f"{feishu.url}/open-apis/bot/v2/hook/x"},
                secret={"value": "fs"},
            ),
        ]
        async with dispatching(db, configs, RealClock()):
            states = await settled(db, 5)
        assert set(states.values()) == {"delivered"}
        assert key in slack.bodies()[0]["text"]
        card = teams.bodies()[0]["attachments"][0]
        assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
        assert key in card["content"]["body"][0]["text"]
        request, _ = dingtalk.received[0]
        stamp = request.query["timestamp"]
        assert unquote_plus(request.query_string.split("sign=")[1]) == _dingtalk_sign(
            "SECdt", stamp
        )
        assert dingtalk.bodies()[0]["msgtype"] == "markdown"
        assert key in wecom.bodies()[0]["markdown"]["content"]
        body = feishu.bodies()[0]
        expected = base64.b64encode(
            hmac.new(f"{body['timestamp']}\nfs".encode(), b"", hashlib.sha256).digest()
        ).decode()
        assert body["sign"] == expected and key in body["content"]["text"]


async def test_robot_error_codes_inside_a_200(db: Database) -> None:
    async with Receiver({"errcode": 310000, "errmsg": "sign not match"}) as robot:
        incident_id, _ = await new_incident(db)
        await queue(db, incident_id, "dt", OutboxAction.CREATE, "create")
        config = common("dt", "dingtalk", url={"value": f"{robot.url}/robot/send?access_token=t"})
        async with dispatching(db, [config], RealClock()):
            states = await settled(db, 1)
    assert states == {"create": "dead"}
    (dead,) = await OutboxStore(db, "t").dead_letters()
    assert "310000" in dead.last_error and "sign not match" in dead.response
