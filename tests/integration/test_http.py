"""The HTTP listener end to end: health, metrics, webhook intake, bad input, API."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.config.model import LoadedConfig
from storage import models
from tests.conftest import PG_ADMIN_URL, ConfigWriter, require
from tests.integration.daemon import RunningDaemon, eventually, running_daemon

ALERT = {"name": "disk full", "resource": "db1", "severity": "critical", "summary": "/ at 99%"}


async def _open_incidents(daemon: RunningDaemon) -> list[dict[str, Any]]:
    return await daemon.incidents()


async def test_generic_webhook_becomes_an_incident(
    write_config: ConfigWriter, database_url: str
) -> None:
    async with running_daemon(write_config(database_url)) as daemon:
        status, body = await daemon.post_json("/webhooks/generic", ALERT)
        assert status == 202 and body["duplicate"] is False and body["events"] == 1
        incidents = await eventually(lambda: _open_incidents(daemon), lambda items: len(items) == 1)
        incident = incidents[0]
        assert incident["key"] == "INC-000001"
        assert incident["title"] == "/ at 99%"
        assert incident["status"] == "new" and incident["priority"] == "P1"
        for field in (
            "id",
            "type",
            "impact",
            "urgency",
            "major",
            "service",
            "ci",
            "category",
            "assignment_group",
            "requester",
            "event_count",
            "sla",
            "external_refs",
            "created_at",
            "updated_at",
            "resolved_at",
        ):
            assert field in incident
        status, detail = await daemon.get_json(f"/api/v1/incidents/{incident['key']}")
        assert status == 200
        assert detail["events"][0]["resource"] == "db1"
        assert detail["timeline"][0]["kind"] == "opened"
        status, events = await daemon.get_json("/api/v1/events?status=firing")
        assert status == 200 and events["items"][0]["labels"]["original_severity"] == "critical"


async def test_resolved_alert_resolves_and_repeat_is_deduplicated(
    write_config: ConfigWriter,
) -> None:
    async with running_daemon(write_config()) as daemon:
        await daemon.post_json("/webhooks/generic", ALERT)
        await daemon.post_json("/webhooks/generic", {**ALERT, "summary": "/ at 100%"})
        await daemon.post_json("/webhooks/generic", {**ALERT, "status": "resolved"})
        incidents = await eventually(
            lambda: _open_incidents(daemon),
            lambda items: bool(items) and items[0]["status"] == "resolved",
        )
        assert len(incidents) == 1
        _, events = await daemon.get_json("/api/v1/events")
        assert [(e["count"], e["status"]) for e in events["items"]] == [(3, "resolved")]


async def test_same_delivery_twice_changes_nothing(write_config: ConfigWriter) -> None:
    loaded = write_config(
        integrations=[{"name": "generic", "kind": "generic", "delivery_id_header": "X-Delivery"}]
    )
    async with running_daemon(loaded) as daemon:
        headers = {"X-Delivery": "d-1"}
        first = await daemon.post_json("/webhooks/generic", ALERT, headers)
        second = await daemon.post_json("/webhooks/generic", {**ALERT, "x": 1}, headers)
        assert first[0] == second[0] == 202
        assert second[1]["duplicate"] is True and second[1]["intake_id"] == first[1]["intake_id"]
        # identical body, no delivery id: duplicate within the window
        third = await daemon.post_json("/webhooks/generic", {"name": "a", "resource": "b"})
        fourth = await daemon.post_json("/webhooks/generic", {"name": "a", "resource": "b"})
        assert fourth[1]["duplicate"] is True and fourth[1]["intake_id"] == third[1]["intake_id"]
        await eventually(lambda: _open_incidents(daemon), lambda items: len(items) == 2)
        assert await models.IntakeRecordRow.all().count() == 2


@pytest.mark.parametrize(
    ("headers", "body", "status", "reason"),
    [
        ({"Content-Type": "application/json"}, b"{not json", 400, "invalid_json"),
        ({"Content-Type": "application/json"}, b"[1, 2]", 400, "wrong_shape"),
        ({"Content-Type": "application/json"}, b'{"severity": "high"}', 400, "missing_field"),
        ({"Content-Type": "text/plain"}, b"{}", 415, "unsupported_media_type"),
        (
            {"Content-Type": "application/json"},
            b'{"name": "' + b"x" * 3000 + b'"}',
            413,
            "too_large",
        ),
    ],
)
async def test_bad_input_is_refused_with_a_reason_and_sampled(
    write_config: ConfigWriter, headers: dict[str, str], body: bytes, status: int, reason: str
) -> None:
    loaded = write_config(
        integrations=[{"name": "generic", "kind": "generic", "max_body_bytes": 2048}],
        http={"rejected_sample_bytes": 64},
    )
    async with running_daemon(loaded) as daemon:
        async with daemon.http.post("/webhooks/generic", data=body, headers=headers) as response:
            assert response.status == status
            answer = await response.json()
        assert answer["error"] == reason and answer["message"]
        assert await models.IntakeRecordRow.all().count() == 0
        if status == 400:
            sample = await models.RejectedIntake.get(reason=reason)
            assert bytes(sample.sample) == body[:64] and sample.size == len(body)
        metrics = await (await daemon.http.get("/metrics")).text()
        assert f'reason="{reason if status != 415 else "unsupported_media_type"}"' in metrics


async def test_gzip_body_that_expands_past_the_limit_is_refused(write_config: ConfigWriter) -> None:
    loaded = write_config(
        integrations=[{"name": "generic", "kind": "generic", "max_body_bytes": 4096}]
    )
    bomb = gzip.compress(b'{"name": "' + b"a" * 1_000_000 + b'"}')
    assert len(bomb) < 4096
    async with running_daemon(loaded) as daemon:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        async with daemon.http.post("/webhooks/generic", data=bomb, headers=headers) as response:
            assert response.status == 413
        small = gzip.compress(b'{"name": "n", "resource": "r"}')
        async with daemon.http.post("/webhooks/generic", data=small, headers=headers) as response:
            assert response.status == 202


async def test_unknown_integration_is_404(write_config: ConfigWriter) -> None:
    async with running_daemon(write_config()) as daemon:
        status, body = await daemon.post_json("/webhooks/nope", ALERT)
        assert status == 404 and body["error"] == "unknown_integration"


@pytest.mark.parametrize("kind", ["bearer", "basic", "hmac"])
async def test_webhook_authentication(write_config: ConfigWriter, kind: str) -> None:
    auths: dict[str, dict[str, Any]] = {
        "bearer": {"type": "bearer", "token": "s3cret"},
        "basic": {"type": "basic", "username": "am", "password": "pw"},
        "hmac": {"type": "hmac", "secret": "k3y", "replay_window_seconds": 60},
    }
    auth = auths[kind]
    loaded = write_config(integrations=[{"name": "generic", "kind": "generic", "auth": auth}])
    body = b'{"name": "n", "resource": "r"}'
    stamp = str(int(time.time()))
    good_sig = hmac.new(b"k3y", stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    import base64

    good = {
        "bearer": {"Authorization": "Bearer s3cret"},
        "basic": {"Authorization": "Basic " + base64.b64encode(b"am:pw").decode()},
        "hmac": {"X-Signature": f"sha256={good_sig}", "X-Timestamp": stamp},
    }[kind]
    stale = str(int(time.time()) - 3600)
    stale_sig = hmac.new(b"k3y", stale.encode() + b"." + body, hashlib.sha256).hexdigest()
    bad = {
        "bearer": [{}, {"Authorization": "Bearer wrong"}],
        "basic": [{}, {"Authorization": "Basic " + base64.b64encode(b"am:nope").decode()}],
        "hmac": [
            {},
            {"X-Signature": "sha256=" + "0" * 64, "X-Timestamp": stamp},
            {"X-Signature": f"sha256={stale_sig}", "X-Timestamp": stale},
        ],
    }[kind]
    async with running_daemon(loaded) as daemon:
        for headers in bad:
            async with daemon.http.post(
                "/webhooks/generic",
                data=body,
                headers={"Content-Type": "application/json", **headers},
            ) as response:
                assert response.status == 401
                assert (await response.json())["error"]
        async with daemon.http.post(
            "/webhooks/generic", data=body, headers={"Content-Type": "application/json", **good}
        ) as response:
            assert response.status == 202
        metrics = await (await daemon.http.get("/metrics")).text()
        labels = 'channel="http",integration="generic",reason="auth"'
        assert f"intake_gateway_intake_rejected_total{{{labels}}} {len(bad)}.0" in metrics


async def test_rate_limit_answers_429_with_retry_after(write_config: ConfigWriter) -> None:
    loaded = write_config(
        integrations=[
            {"name": "generic", "kind": "generic", "rate_limit": {"per_second": 1, "burst": 2}}
        ]
    )
    async with running_daemon(loaded) as daemon:
        statuses = []
        for n in range(4):
            async with daemon.http.post(
                "/webhooks/generic", json={"name": f"n{n}", "resource": "r"}
            ) as response:
                statuses.append(response.status)
                if response.status == 429:
                    assert int(response.headers["Retry-After"]) >= 1
        assert statuses[:2] == [202, 202] and 429 in statuses


async def test_rate_limit_burst_is_the_bucket_size_as_for_sinks(write_config: ConfigWriter) -> None:
    limit = {"per_second": 1, "burst": 3}
    integration = {"name": "generic", "kind": "generic", "rate_limit": limit}
    loaded = write_config(integrations=[integration])
    async with running_daemon(loaded) as daemon:
        statuses = [await _status_of_post(daemon, f"n{n}") for n in range(6)]
    assert statuses == [202, 202, 202, 429, 429, 429]


async def _status_of_post(daemon: RunningDaemon, name: str) -> int:
    async with daemon.http.post("/webhooks/generic", json={"name": name}) as response:
        return response.status


async def test_metrics_parse_and_pass_promtool(write_config: ConfigWriter) -> None:
    async with running_daemon(write_config()) as daemon:
        await daemon.post_json("/webhooks/generic", ALERT)
        await eventually(lambda: _open_incidents(daemon), lambda items: len(items) == 1)
        text = await (await daemon.http.get("/metrics")).text()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert "intake_gateway_intake_accepted" in families
    assert "intake_gateway_intake_commit_seconds" in families
    assert "intake_gateway_build_info" in families
    assert "intake_gateway_pipeline_lag_seconds" in families
    promtool = shutil.which("promtool")
    require("promtool (Debian package prometheus)", promtool is not None)
    assert promtool is not None
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


async def test_readiness_and_api_actions(write_config: ConfigWriter) -> None:
    async with running_daemon(write_config()) as daemon:
        status, ready = await daemon.get_json("/readyz")
        assert status == 200 and ready["status"] == "ready"
        assert (await daemon.get_json("/healthz"))[0] == 200
        await daemon.post_json("/webhooks/generic", ALERT)
        [incident] = await eventually(lambda: _open_incidents(daemon), lambda i: len(i) == 1)
        path = f"/api/v1/incidents/{incident['id']}"
        status, acked = await daemon.post_json(f"{path}/acknowledge", {"author": "alice"})
        assert status == 200 and acked["status"] == "acknowledged"
        status, resolved = await daemon.post_json(
            f"{path}/resolve", {"author": "bob", "comment": "disk cleaned"}
        )
        assert status == 200 and resolved["status"] == "resolved"
        status, refused = await daemon.post_json(f"{path}/acknowledge", {})
        assert status == 409 and refused["error"] == "conflict"
        status, missing = await daemon.post_json("/api/v1/incidents/424242/resolve", {})
        assert status == 404 and missing["error"] == "not_found"
        status, bad = await daemon.post_json(f"{path}/resolve", {"author": 7})
        assert status == 400 and bad["error"] == "invalid_body"
        filtered = await daemon.incidents("?status=resolved&priority=P1")
        assert [item["id"] for item in filtered] == [incident["id"]]
        status, wrong = await daemon.get_json("/api/v1/incidents?status=bogus")
        assert status == 400 and "bogus" in wrong["message"]
        status, spec = await daemon.get_json("/api/v1/openapi.json")
        assert status == 200 and "/api/v1/incidents" in spec["paths"]


async def test_silences_api(write_config: ConfigWriter) -> None:
    async with running_daemon(write_config()) as daemon:
        body = {
            "matchers": [{"name": "resource", "op": "=", "value": "db1"}],
            "ends_at": "2099-01-01T00:00:00Z",
            "author": "alice",
            "comment": "patching",
        }
        status, created = await daemon.post_json("/api/v1/silences", body)
        assert status == 201 and created["state"] == "active"
        status, listed = await daemon.get_json("/api/v1/silences")
        assert [s["id"] for s in listed["items"]] == [created["id"]]
        async with daemon.http.delete(f"/api/v1/silences/{created['id']}") as response:
            assert response.status == 200
        status, listed = await daemon.get_json("/api/v1/silences")
        assert listed["items"] == []
        status, refused = await daemon.post_json("/api/v1/silences", {**body, "matchers": []})
        assert status == 400 and refused["error"] == "invalid_body"


async def test_api_token_is_required_when_configured(write_config: ConfigWriter) -> None:
    loaded = write_config(http={"listen": "127.0.0.1:0", "api_token": "t0ken"})
    async with running_daemon(loaded) as daemon:
        assert (await daemon.get_json("/api/v1/incidents"))[0] == 401
        async with daemon.http.get(
            "/api/v1/incidents", headers={"Authorization": "Bearer t0ken"}
        ) as response:
            assert response.status == 200


async def _set_connections(database: str, allowed: bool) -> None:
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(
            f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {"true" if allowed else "false"}'
        )
        if not allowed:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                database,
            )
    finally:
        await admin.close()


async def test_database_outage_answers_503_and_recovers(
    write_config: ConfigWriter, postgres_url: str
) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    loaded: LoadedConfig = write_config(
        postgres_url, storage={"url": postgres_url, "connect_timeout_seconds": 1}
    )
    async with running_daemon(loaded) as daemon:
        assert (await daemon.post_json("/webhooks/generic", ALERT))[0] == 202
        await _set_connections(database, allowed=False)
        try:
            status, body = await daemon.post_json("/webhooks/generic", {**ALERT, "name": "two"})
            assert status == 503 and body["error"] == "unavailable"
            status, ready = await daemon.get_json("/readyz")
            assert status == 503 and ready["checks"]["database"] != "ok"
        finally:
            await _set_connections(database, allowed=True)
        await eventually(
            lambda: daemon.post_json("/webhooks/generic", {**ALERT, "name": "three"}),
            lambda answer: answer[0] == 202,
        )
        assert (await daemon.get_json("/readyz"))[0] == 200
        await eventually(lambda: _open_incidents(daemon), lambda items: len(items) == 2)


async def test_reload_api_swaps_valid_rules_and_refuses_broken_ones(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    loaded = write_config()
    rules = tmp_path / "rules"
    async with running_daemon(loaded) as daemon:
        before = daemon.services.runtime.ruleset.version
        (rules / "10-db.yaml").write_text(
            "rules:\n  - name: db-p1\n    description: databases are urgent\n"
            "    match: {resource: db1}\n    set: {impact: 1, urgency: 1}\n"
        )
        status, body = await daemon.post_json("/api/v1/reload", {})
        assert status == 200 and body["status"] == "reloaded"
        assert daemon.services.runtime.ruleset.version != before
        await daemon.post_json("/webhooks/generic", {**ALERT, "severity": "low"})
        [incident] = await eventually(daemon.incidents, lambda items: len(items) == 1)
        assert incident["priority"] == "P1"
        good = daemon.services.runtime.ruleset.version
        (rules / "20-bad.yaml").write_text("rules:\n  - name: broken\n    match: {resource: [\n")
        status, body = await daemon.post_json("/api/v1/reload", {})
        assert status == 422 and body["error"] == "invalid_config"
        assert any("20-bad.yaml:" in problem for problem in body["problems"])
        assert daemon.services.runtime.ruleset.version == good
        metrics = await (await daemon.http.get("/metrics")).text()
        assert "intake_gateway_config_last_reload_successful 0.0" in metrics
        assert f'intake_gateway_rules_loaded{{version="{good}"}} 1.0' in metrics


async def test_list_pages_and_the_detail_view_give_the_same_json(
    write_config: ConfigWriter, database_url: str
) -> None:
    """Lists are read as plain rows, one incident with its events through the models:
    on either engine an item must read the same in both."""
    async with running_daemon(write_config(database_url)) as daemon:
        await daemon.post_json("/webhooks/generic", {**ALERT, "labels": {"team": "dba", "n": 1}})
        incidents = await eventually(lambda: _open_incidents(daemon), bool)
        _, detail = await daemon.get_json(f"/api/v1/incidents/{incidents[0]['id']}")
        _, events = await daemon.get_json(f"/api/v1/events?incident_id={incidents[0]['id']}")
    listed_event = events["items"][0]
    assert listed_event == detail["events"][0]
    assert listed_event["labels"]["team"] == "dba" and listed_event["flapping"] is False
    assert listed_event["first_seen"].endswith("Z")
    del detail["events"], detail["timeline"]
    assert incidents[0] == detail
