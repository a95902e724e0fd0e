"""``intake-gateway explain`` prints the decision the daemon then makes: every mail
fixture is explained by the running daemon (example rules and catalogue, both
engines), then sent through its SMTP listener, and the event, incident, timeline and
outbox rows it leaves agree with the explanation: fingerprint, correlation key,
outcome, incident, priority, matched rules and routes. The explanation stores nothing,
names each rule's file:line, and diagnoses a mail's charset."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from storage import models
from tests.conftest import ConfigWriter
from tests.integration.cli_support import TOKEN, Cli, token_file
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.example_config import example_sections, send_mail
from tests.integration.mail_support import message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
# (fixture, mailbox) for every mail fixture: monitoring mail (and one GBK mail) to the
# alerts mailbox, the rest to the help desk; sorted, so a recovery finds its problem's
# incident and the replies and bounces meet the incidents before them
MONITORING_MAIL = ("gbk_declared_gb2312", "icinga", "nagios", "zabbix")
MAILS = [
    (path.stem, "alerts" if path.stem.startswith(MONITORING_MAIL) else "helpdesk")
    for path in sorted(FIXTURES.glob("*.eml"))
]
READ_TOKEN = "cli-read-token"
ADDRESSES = {"alerts": "alerts@example.org", "helpdesk": "helpdesk@example.org"}


@pytest.fixture
async def daemon(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> AsyncIterator[RunningDaemon]:
    sections = example_sections(tmp_path)
    http = {"listen": "127.0.0.1:0", "api_token": TOKEN, "api_read_token": READ_TOKEN}
    loaded = write_config(database_url, http=http, **sections)
    async with running_daemon(loaded) as running:
        running.http.headers.update({"Authorization": f"Bearer {TOKEN}"})
        yield running


@pytest.fixture
def cli(daemon: RunningDaemon, tmp_path: Path) -> Cli:
    return Cli(daemon.base_url, token_file(tmp_path))


async def _counts() -> tuple[int, int, int]:
    return (
        await models.IntakeRecordRow.all().count(),
        await models.Event.all().count(),
        await models.Incident.all().count(),
    )


async def _processed(count: int) -> bool:
    done = await models.IntakeRecordRow.filter(state="processed").count()
    return done == count and await models.IntakeRecordRow.all().count() == count


async def _what_the_daemon_did(
    daemon: RunningDaemon, raw: bytes, mailbox: str, outbox_before: int
) -> dict[str, Any]:
    records = await models.IntakeRecordRow.all().count()
    await send_mail(daemon, raw, to=ADDRESSES[mailbox])
    await eventually(lambda: _processed(records + 1), bool)
    return {
        "outbox": await models.OutboxRow.filter(id__gt=outbox_before).order_by("id"),
    }


def _line(path: Path, number: int) -> str:
    return path.read_text(encoding="utf-8").splitlines()[number - 1]


async def _resolve_after(incident_id: int) -> str | None:
    incident = (await models.Incident.get(id=incident_id)).resolve_after
    return incident.isoformat().replace("+00:00", "Z") if incident else None


async def test_explain_prints_the_decision_the_daemon_makes(
    daemon: RunningDaemon, cli: Cli
) -> None:
    for fixture, mailbox in MAILS:
        path = FIXTURES / f"{fixture}.eml"
        before = await _counts()
        ran = await cli("explain", str(path), "--integration", mailbox, "--json")
        assert ran.code == 0, (fixture, ran)
        explained = orjson.loads(ran.out)
        assert await _counts() == before, f"{fixture}: explain stored something"
        assert (explained["integration"], explained["kind"]) == (mailbox, "email")
        assert explained["stored"] is False
        [item] = explained["events"]
        decision = item["decision"]

        last_outbox = await models.OutboxRow.all().order_by("-id").first()
        did = await _what_the_daemon_did(
            daemon, path.read_bytes(), mailbox, last_outbox.id if last_outbox else 0
        )
        event = await models.Event.get(fingerprint=decision["fingerprint"])
        assert event.last_outcome == decision["outcome"], fixture
        assert event.source == mailbox and event.name == item["event"]["name"], fixture
        for rule in decision["matched_rules"]:
            where, _, line = rule["where"].rpartition(":")
            assert where.endswith(".yaml") and int(line) > 0, rule
            assert f"name: {rule['name']}" in _line(Path(where), int(line))
        if event.incident_id is None:  # an auto-reply or a bounce opens nothing
            assert (decision["action"], decision["incident_key"]) == ("none", None), fixture
            continue
        incident = await models.Incident.get(id=event.incident_id)
        assert incident.correlation_key == decision["correlation_key"], fixture
        assert incident.priority == decision["priority"], fixture
        assert incident.title == decision["title"], fixture
        assert incident.assignment_group == decision["assignment_group"], fixture
        if decision["action"] == "open":
            assert decision["incident_key"] is None
            opened = await models.TimelineEntry.get(incident_id=incident.id, kind="opened")
            rules = ",".join(rule["name"] for rule in decision["matched_rules"])
            assert (opened.data["rules"], opened.data["priority"]) == (
                rules,
                decision["priority"],
            ), fixture
        else:
            assert decision["incident_key"] == incident.key, fixture
            # a hold-down counted from the moment each was judged
            held = await _resolve_after(incident.id)
            assert (held is None) == (decision["resolve_after"] is None), fixture
        # the incident keeps the routes the decision named; an opening is sent to each,
        # a follow-up only when something changed
        assert incident.routes == decision["routes"], fixture
        # rows of this incident only: the periodic job may meanwhile forward another's
        # resolution (and, after its hold-down, this one's)
        rows = [row for row in did["outbox"] if row.incident_id == incident.id]
        if decision["action"] == "open":
            created = sorted(row.sink for row in rows if row.action == "create")
            assert created == sorted(decision["routes"]), fixture
        else:
            assert {row.sink for row in rows} <= set(decision["routes"]), fixture


async def test_explain_diagnoses_the_charset_and_prints_a_readable_report(
    daemon: RunningDaemon, cli: Cli
) -> None:
    gbk = FIXTURES / "gbk_declared_gb2312.eml"
    ran = await cli("explain", str(gbk), "-i", "alerts", "--json")
    [finding] = ran.json()["charsets"]
    assert finding["declared"] == "gb2312"
    assert finding["declared_fits"] is False and finding["needs"] == "gbk"
    assert finding["decoded_as"] == "gb18030"
    assert finding["verdict"] == "declares gb2312, but the bytes need gbk; read as gb18030"
    fits = await cli(
        "explain", str(FIXTURES / "gb2312_encoded_words.eml"), "-i", "helpdesk", "--json"
    )
    assert [item["declared_fits"] for item in fits.json()["charsets"]] == [True]

    text = await cli("explain", str(gbk), "-i", "alerts")
    assert text.code == 0, text
    lines = text.out.splitlines()
    assert lines[0].startswith("alerts (email), rules ") and lines[0].endswith("nothing stored")
    assert "  text/plain: declares gb2312, but the bytes need gbk; read as gb18030" in lines
    assert any(line.startswith("event 1: email '王喆") for line in lines)
    rules = next(line for line in lines if line.strip().startswith("rules:"))
    assert "mail-default (" in rules and "20-helpdesk-mail.yaml:" in rules
    assert any(line.split() == ["routes:", "helpdesk-mail"] for line in lines)


async def test_explain_local_judges_with_the_config_file_and_no_daemon(
    daemon: RunningDaemon, cli: Cli, tmp_path: Path
) -> None:
    """On a daemon that has stored nothing, --local and the daemon decide alike."""
    mail = str(FIXTURES / "zabbix_problem.eml")
    remote = (await cli("explain", mail, "-i", "alerts", "--json")).json()
    config = str(tmp_path / "gateway.yaml")
    offline = Cli("http://127.0.0.1:1", cli.token_file)  # no daemon there
    local = (
        await offline("explain", mail, "-i", "alerts", "--local", "--config", config, "--json")
    ).json()
    assert local["charsets"] == remote["charsets"]
    [(mine, theirs)] = zip(local["events"], remote["events"], strict=True)
    for name in ("fingerprint", "correlation_key", "outcome", "action", "matched_rules",
                 "priority", "routes", "assignment_group"):  # fmt: skip
        assert mine["decision"][name] == theirs["decision"][name], name
    bad = await offline("explain", mail, "--local", "--config", str(tmp_path / "none.yaml"))
    assert bad.code == 2 and "none.yaml:0: file not found" in bad.err


async def test_explain_refusals(daemon: RunningDaemon, cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "printer.eml"
    path.write_bytes(message())  # to helpdesk@example.org
    guessed = await cli("explain", str(path), "--json")
    assert guessed.json()["integration"] == "helpdesk"

    alert = tmp_path / "alert.json"
    alert.write_bytes(orjson.dumps({"name": "disk", "resource": "db1", "severity": "high"}))
    unknown = await cli("explain", str(alert), "--integration", "nosuch")
    assert unknown.code == 1
    assert "400 bad_parameter: integration: no integration or mailbox 'nosuch'" in unknown.err
    many = await cli("explain", str(alert))
    assert (
        many.code == 1
        and "(configured: alertmanager, alerts, generic, grafana, helpdesk," in many.err
    )
    generic = await cli("explain", str(alert), "-i", "generic", "--json")
    [item] = generic.json()["events"]
    assert item["decision"]["action"] == "open" and generic.json()["charsets"] is None
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    refused = await cli("explain", str(broken), "-i", "alertmanager")
    assert refused.code == 1 and "422 unparseable" in refused.err
    assert (await cli("explain", str(alert), "-i", "generic", token=False)).code == 4
    # a dry run stores nothing: the read token may ask for it, and for nothing that writes
    reader = {"INTAKE_GATEWAY_TOKEN": READ_TOKEN}
    read = await cli("explain", str(alert), "-i", "generic", "--json", token=False, env=reader)
    assert read.json()["events"][0]["decision"]["action"] == "open"
    write = await cli("silence", "add", "a=b", "-c", "x", token=False, env=reader)
    assert write.code == 4
    assert "403 read_only_token: the read token opens GET requests only" in write.err
    assert (await cli("explain", str(tmp_path / "missing.eml"))).code == 2


async def _all_counts() -> tuple[int, ...]:
    return (*(await _counts()), await models.OutboxRow.all().count())


async def test_a_group_of_alerts_is_explained_as_one_record_and_nothing_stays(
    daemon: RunningDaemon, cli: Cli
) -> None:
    """The first alert of the group opens the incident the second joins: inside the
    rolled-back transaction, so the explanation names the event, not a number."""
    group = FIXTURES.parent / "alerts" / "alertmanager" / "firing_group.json"
    before = await _all_counts()
    ran = await cli("explain", str(group), "-i", "alertmanager", "--json")
    assert await _all_counts() == before
    first, second = (item["decision"] for item in ran.json()["events"])
    assert (first["action"], first["incident_key"]) == ("open", None)
    assert second["action"] in ("join", "update")
    assert (second["incident_key"], second["incident_of_event"]) == (None, 1)
    text = await cli("explain", str(group), "-i", "alertmanager")
    assert "(the incident event 1 opens)" in text.out

    status, _ = await daemon.post_json("/webhooks/alertmanager", orjson.loads(group.read_bytes()))
    assert status == 202
    incidents = await eventually(daemon.incidents, lambda found: len(found) == 1)
    await eventually(lambda: _processed(1), bool)
    for decision in (first, second):
        event = await models.Event.get(fingerprint=decision["fingerprint"])
        assert event.incident_id == incidents[0]["id"]
        assert event.last_outcome == decision["outcome"]
    assert incidents[0]["priority"] == first["priority"]
    assert incidents[0]["correlation_key"] == first["correlation_key"]


async def test_explain_sees_the_silences_in_force(
    daemon: RunningDaemon, cli: Cli, tmp_path: Path
) -> None:
    alert = tmp_path / "alert.json"
    alert.write_bytes(orjson.dumps({"name": "disk", "resource": "db7", "severity": "high"}))
    silence = await cli("silence", "add", "resource=db7", "--comment", "maintenance")
    silence_id = silence.out.strip()
    ran = await cli("explain", str(alert), "-i", "generic", "--json")
    [item] = ran.json()["events"]
    decision = item["decision"]
    assert (decision["outcome"], decision["action"]) == ("suppressed", "none")
    assert decision["suppressed_by"] == f"silence:{silence_id}"
    status, _ = await daemon.post_json("/webhooks/generic", orjson.loads(alert.read_bytes()))
    assert status == 202
    event = await eventually(
        lambda: models.Event.filter(fingerprint=decision["fingerprint"]).first(),
        lambda found: found is not None,
    )
    assert event is not None
    assert (event.last_outcome, event.suppressed_by) == ("suppressed", f"silence:{silence_id}")
    assert (await cli("silence", "expire", silence_id)).code == 0
    again = await cli("explain", str(alert), "-i", "generic", "--json")
    assert again.json()["events"][0]["decision"]["suppressed_by"] == ""
