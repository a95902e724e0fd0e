"""``intake-gateway silence add|query|expire|import`` against a running daemon on both
engines: what the command adds is in the API and suppresses a matching alert sent to
the webhook; expiring ends it; an import creates what the file holds; a missing
token, an unreachable daemon and a refused request end with their exit codes."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import ConfigWriter
from tests.integration.cli_support import TOKEN, Cli, run_cli, token_file
from tests.integration.daemon import RunningDaemon, eventually, running_daemon

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def daemon(write_config: ConfigWriter, database_url: str) -> AsyncIterator[RunningDaemon]:
    loaded = write_config(database_url, http={"listen": "127.0.0.1:0", "api_token": TOKEN})
    async with running_daemon(loaded) as running:
        running.http.headers.update(AUTH)
        yield running


@pytest.fixture
def cli(daemon: RunningDaemon, tmp_path: Path) -> Cli:
    return Cli(daemon.base_url, token_file(tmp_path))


async def _event_of(daemon: RunningDaemon, resource: str) -> dict[str, Any]:
    async def probe() -> list[dict[str, Any]]:
        status, body = await daemon.get_json("/api/v1/events?source=generic")
        assert status == 200, body
        return [item for item in body["items"] if item["resource"] == resource]

    return (await eventually(probe, lambda found: len(found) == 1))[0]


async def _alert(daemon: RunningDaemon, resource: str) -> None:
    alert = {"name": "disk full", "resource": resource, "severity": "critical", "summary": "99%"}
    assert (await daemon.post_json("/webhooks/generic", alert))[0] == 202


async def test_silence_add_suppresses_a_matching_alert_and_expire_ends_it(
    daemon: RunningDaemon, cli: Cli
) -> None:
    added = await cli(
        "silence", "add", "resource=db1", 'severity=~"crit.*"', "name!=backup",
        "--comment", "patching db1", "--author", "alice", "--duration", "2h",
    )  # fmt: skip
    assert added.code == 0, added
    silence_id = int(added.out.strip())

    status, body = await daemon.get_json("/api/v1/silences")
    assert status == 200
    [listed] = body["items"]
    assert listed["id"] == silence_id and listed["state"] == "active"
    assert listed["author"] == "alice" and listed["comment"] == "patching db1"
    assert listed["matchers"] == [
        {"name": "resource", "op": "=", "value": "db1"},
        {"name": "severity", "op": "=~", "value": "crit.*"},
        {"name": "name", "op": "!=", "value": "backup"},
    ]
    ends = datetime.fromisoformat(listed["ends_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=119) < ends - datetime.now(UTC) <= timedelta(hours=2)

    await _alert(daemon, "db1")
    await _alert(daemon, "db2")
    silenced = await _event_of(daemon, "db1")
    assert silenced["outcome"] == "suppressed"
    assert silenced["suppressed_by"] == f"silence:{silence_id}"
    assert silenced["incident_id"] is None
    opened = await _event_of(daemon, "db2")
    assert opened["incident_id"] is not None

    table = await cli("silence", "query")
    assert table.code == 0, table
    header, row = table.out.splitlines()
    assert header.split()[:3] == ["ID", "MATCHERS", "STARTS"]
    assert row.split()[0] == str(silence_id)
    assert "  resource=db1 severity=~crit.* name!=backup  " in row
    assert "alice" in row and "patching db1" in row
    assert (await cli("silence", "query", "resource=db1", "-q")).out.split() == [str(silence_id)]
    assert (await cli("silence", "query", "resource=db9", "-q")).out.split() == []
    assert [item["id"] for item in (await cli("silence", "query", "--json")).json()["items"]] == [
        silence_id
    ]

    expired = await cli("silence", "expire", str(silence_id))
    assert (expired.code, expired.out.strip()) == (0, f"expired {silence_id}")
    assert (await daemon.get_json("/api/v1/silences"))[1]["items"] == []
    gone = await cli("silence", "query", "--expired", "--json")
    assert [item["state"] for item in gone.json()["items"]] == ["expired"]

    again = await cli("silence", "expire", str(silence_id))
    assert again.code == 1
    assert f"silence {silence_id}: DELETE /api/v1/silences/{silence_id}: 404" in again.err
    assert "no such active silence" in again.err


async def test_silence_import_creates_each_silence_of_the_file(
    daemon: RunningDaemon, cli: Cli, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    later = (now + timedelta(hours=3)).isoformat()
    exported = {
        "items": [
            {
                "id": 41,
                "matchers": [{"name": "service", "op": "=", "value": "mail"}],
                "starts_at": now.isoformat(),
                "ends_at": later,
                "author": "bob",
                "comment": "mail migration",
                "state": "active",
            },
            {
                "matchers": [{"name": "resource", "op": "=", "value": "old"}],
                "ends_at": (now - timedelta(hours=1)).isoformat(),
                "author": "bob",
                "comment": "over",
            },
            {"matchers": [], "ends_at": later, "author": "bob", "comment": "no matchers"},
        ]
    }
    path = tmp_path / "silences.json"
    path.write_bytes(orjson.dumps(exported))
    imported = await cli("silence", "import", str(path), "--json")
    assert imported.code == 1, imported  # the third is refused
    results = orjson.loads(imported.out)["items"]
    assert [item["result"].split(":")[0] for item in results] == ["created", "skipped", "refused"]
    assert "400 invalid_body: matchers" in results[2]["result"]

    status, body = await daemon.get_json("/api/v1/silences")
    assert status == 200
    [created] = body["items"]
    assert created["id"] == results[0]["id"] != 41
    assert created["matchers"] == [{"name": "service", "op": "=", "value": "mail"}]
    assert (created["author"], created["comment"]) == ("bob", "mail migration")

    # what query --json prints imports again as it is
    path.write_text((await cli("silence", "query", "--json")).out)
    again = await cli("silence", "import", str(path))
    assert again.code == 0, again
    assert len((await daemon.get_json("/api/v1/silences"))[1]["items"]) == 2

    ids = [str(item["id"]) for item in (await daemon.get_json("/api/v1/silences"))[1]["items"]]
    ended = await cli("silence", "expire", *ids, "--json")
    assert ended.json() == {"items": [{"id": int(i), "state": "expired"} for i in ids]}
    assert (await daemon.get_json("/api/v1/silences"))[1]["items"] == []


async def test_silence_errors_name_the_cause_and_end_with_their_exit_code(
    daemon: RunningDaemon, cli: Cli, tmp_path: Path
) -> None:
    no_token = await cli("silence", "query", token=False)
    assert no_token.code == 4
    assert "401 unauthorized" in no_token.err and "--token-file" in no_token.err

    by_env = await cli("silence", "query", "-q", token=False, env={"INTAKE_GATEWAY_TOKEN": TOKEN})
    assert by_env.code == 0, by_env
    # the daemon's address from the environment, and the command as python -m gateway
    as_module = await run_cli(
        "silence", "query", "-q",
        env={"INTAKE_GATEWAY_TOKEN": TOKEN, "INTAKE_GATEWAY_URL": daemon.base_url},
        command=(sys.executable, "-m", "gateway"),
    )  # fmt: skip
    assert as_module.code == 0, as_module
    # without --url: http.listen of --config, a wildcard address reached on the loopback
    port = daemon.base_url.rsplit(":", 1)[1]
    config = tmp_path / "elsewhere.yaml"
    config.write_text(f'http:\n  listen: "0.0.0.0:{port}"\nstorage: {{url: nowhere}}\n')
    by_config = await run_cli(
        "silence", "query", "-q", "--config", str(config), "--token-file", str(cli.token_file)
    )
    assert by_config.code == 0, by_config

    unreachable = await Cli("http://127.0.0.1:1", cli.token_file)("silence", "query")
    assert unreachable.code == 3
    assert "cannot reach the daemon at http://127.0.0.1:1" in unreachable.err

    bad = await cli("silence", "add", "resource", "--comment", "x")
    assert bad.code == 2 and "matcher 'resource'" in bad.err

    bad_regex = await cli("silence", "add", "resource=~(", "--comment", "x")
    assert bad_regex.code == 2 and "not a regular expression" in bad_regex.err
    refused = await cli("silence", "add", "a=b", "--comment", "x", "--author", "")
    assert refused.code == 1
    assert "POST /api/v1/silences: 400 invalid_body: author" in refused.err
    assert (await cli("silence", "add", "a=b", "--comment", "x", "--end", "soon")).code == 2


async def test_a_silence_whose_matcher_cannot_match_is_refused(daemon: RunningDaemon) -> None:
    """A regex that does not compile (or a field no event has) would make a silence that
    silences nothing while it reports success; the API refuses it and stores nothing."""
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for matcher, words in [
        ({"name": "resource", "op": "=~", "value": "db(1"}, 'regular expression "db(1"'),
        ({"name": "resource", "op": "!~", "value": "*"}, 'regular expression "*"'),
        ({"name": "mail.nosuchfield", "op": "=", "value": "x"}, "mail.nosuchfield"),
    ]:
        body = {"matchers": [matcher], "ends_at": later, "author": "a", "comment": "c"}
        status, answer = await daemon.post_json("/api/v1/silences", body)
        assert status == 400, answer
        assert answer["error"] == "invalid_body"
        assert answer["message"].startswith("matchers.0: ") and words in answer["message"]
    assert (await daemon.get_json("/api/v1/silences?include_expired=true"))[1]["items"] == []
