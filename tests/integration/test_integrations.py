"""docs/integrations.md, snippet by snippet: each is read from the page (or the file it
links) and sends to the real daemon what it would send in production: Alertmanager
through a real Alertmanager, curl and the Nagios commands through a real shell and curl
(and swaks for mail), the Zabbix media type's own script under node, Grafana's contact
point as the request it describes. A recovery resolves what the problem opened."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import stat
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from ruamel.yaml import YAML

from tests.conftest import ConfigWriter, require
from tests.integration.alertmanager import postable_alert, running_alertmanager
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.mail_support import smtp_port, smtp_section

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "integrations.md"
ZABBIX_MEDIA = REPO / "monitoring" / "zabbix" / "media_intake_gateway.yaml"
FIXTURES = REPO / "tests" / "fixtures" / "alerts"
DOC_URL = "http://gateway.example.org:8080"
TOKEN = "test-token-0123456789abcdef"


def snippet(name: str) -> str:
    found = re.search(rf"<!-- snippet: {name} -->\n```\w*\n(.*?)```", PAGE.read_text(), re.S)
    assert found, f"no snippet {name} in {PAGE}"
    return found.group(1)


def _yaml(text: str) -> Any:
    return YAML(typ="safe").load(text)


@pytest.fixture
def gateway_config(
    write_config: ConfigWriter, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """The page's gateway side, each token from its environment variable."""
    integrations = _yaml(snippet("gateway"))["integrations"]
    for integration in integrations:
        monkeypatch.setenv(integration["auth"]["token"]["env"], TOKEN)
    return write_config(
        database_url,
        integrations=integrations,
        smtp=smtp_section(),
        mailboxes=[{"name": "helpdesk", "address": "helpdesk@example.org"}],
    )


async def _statuses(daemon: RunningDaemon) -> dict[str, str]:
    return {item["title"]: item["status"] for item in await daemon.incidents()}


async def _events(daemon: RunningDaemon, source: str) -> list[dict[str, Any]]:
    async with daemon.http.get("/api/v1/events", params={"source": source}) as response:
        assert response.status == 200, await response.text()
        items: list[dict[str, Any]] = (await response.json())["items"]
        return items


async def _one_incident_then_resolved(
    daemon: RunningDaemon, send_problem: Any, send_recovery: Any
) -> None:
    await send_problem()
    opened = await eventually(lambda: _statuses(daemon), lambda seen: len(seen) == 1)
    assert list(opened.values()) == ["new"], opened
    await send_recovery()
    await eventually(lambda: _statuses(daemon), lambda seen: list(seen.values()) == ["resolved"])


async def _run(*command: str, env: Mapping[str, str] | None = None) -> str:
    """Run a program beside the daemon, which serves on this event loop meanwhile."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, f"{command}\n{out.decode()}\n{err.decode()}"
    return out.decode()


async def _shell(command: str, env: Mapping[str, str] | None = None) -> str:
    return await _run("/bin/sh", "-c", command, env=env)


async def test_curl_snippet(gateway_config: Any) -> None:
    require("curl", shutil.which("curl") is not None)
    commands = snippet("curl").replace("\\\n", " ").strip().splitlines()
    assert len(commands) == 2
    async with running_daemon(gateway_config) as daemon:
        env = {"INTAKE_GATEWAY_GENERIC_TOKEN": TOKEN}

        async def send(command: str) -> None:
            answer = await _shell(command.replace(DOC_URL, daemon.base_url), env)
            assert orjson.loads(answer)["status"] == "accepted"

        await _one_incident_then_resolved(
            daemon, lambda: send(commands[0]), lambda: send(commands[1])
        )


def _nagios_commands(name: str) -> dict[str, str]:
    """command_name -> command_line of the snippet's Nagios object definitions."""
    found = re.findall(r"command_name\s+(\S+)\n\s+command_line\s+(.+?)\n}", snippet(name), re.S)
    return dict(found)


def _expand(command_line: str, macros: Mapping[str, str]) -> str:
    """What Nagios does before it runs a command: every $MACRO$ replaced by its value."""

    def value(match: re.Match[str]) -> str:
        assert match.group(1) in macros, f"the test does not set ${match.group(1)}$"
        return macros[match.group(1)]

    return re.sub(r"\$([A-Z0-9]+)\$", value, command_line)


SERVICE_MACROS = {
    "USER10": TOKEN,
    "HOSTNAME": "web01",
    "HOSTALIAS": "Web server 01",
    "HOSTADDRESS": "192.0.2.10",
    "SERVICEDESC": "HTTPS",
    "LONGSERVICEOUTPUT": "",
    "TIMET": "1714724130",
    "LONGDATETIME": "Fri May 3 10:15:30 UTC 2024",
}
PROBLEM = {"NOTIFICATIONTYPE": "PROBLEM", "SERVICESTATE": "CRITICAL", "SERVICEOUTPUT": "HTTP 503"}
RECOVERY = {"NOTIFICATIONTYPE": "RECOVERY", "SERVICESTATE": "OK", "SERVICEOUTPUT": "HTTP 200"}


async def test_nagios_http_notification_commands(gateway_config: Any) -> None:
    require("curl", shutil.which("curl") is not None)
    commands = _nagios_commands("nagios-http")
    service = commands["notify-service-by-intake-gateway"]
    host = commands["notify-host-by-intake-gateway"]
    async with running_daemon(gateway_config) as daemon:

        async def run(command_line: str, macros: Mapping[str, str]) -> None:
            await _shell(_expand(command_line, macros).replace(DOC_URL, daemon.base_url))

        async def problem() -> None:
            await run(service, {**SERVICE_MACROS, **PROBLEM})

        async def recovery() -> None:
            await run(service, {**SERVICE_MACROS, **RECOVERY})

        await _one_incident_then_resolved(daemon, problem, recovery)
        host_down = {"HOSTSTATE": "DOWN", "HOSTOUTPUT": "PING CRITICAL - Packet loss = 100%"}
        await run(host, {**SERVICE_MACROS, "NOTIFICATIONTYPE": "PROBLEM", **host_down})
        seen = await eventually(lambda: _statuses(daemon), lambda found: len(found) == 2)
        assert sorted(seen.values()) == ["new", "resolved"], seen


ICINGA2_SERVICE = {
    "host.name": "nas01.example.org",
    "address": "198.51.100.5",
    "service.name": "disk-/volume1",
    "notification.author": "",
    "notification.comment": "",
    "icinga.long_date_time": "2024-05-03 10:22:41 +0200",
    "intake_gateway_token": TOKEN,
}


def _icinga2_command(url: str, macros: Mapping[str, str]) -> list[str]:
    """The command array of the snippet's NotificationCommand, its $macros$ resolved
    as Icinga 2 does (the command's own vars included); no shell."""
    text = snippet("icinga2")
    array = re.search(r"command = \[(.*?)\]\n", text, re.S)
    assert array
    words = re.findall(r'"((?:[^"\\]|\\.)*)"', array.group(1))
    own = dict(re.findall(r'vars\.(\w+) = "([^"]*)"', text))
    known: dict[str, str] = {**own, "intake_gateway_url": url, **macros}

    def value(match: re.Match[str]) -> str:
        assert match.group(1) in known, f"the test does not set ${match.group(1)}$"
        return known[match.group(1)]

    return [re.sub(r"\$([\w.]+)\$", value, word) for word in words]


async def test_icinga2_notification_command(gateway_config: Any) -> None:
    require("curl", shutil.which("curl") is not None)
    async with running_daemon(gateway_config) as daemon:
        url = f"{daemon.base_url}/webhooks/nagios"

        async def send(kind: str, state: str, output: str) -> None:
            macros = {"notification.type": kind, "service.state": state, "service.output": output}
            await _run(*_icinga2_command(url, {**ICINGA2_SERVICE, **macros}))

        await _one_incident_then_resolved(
            daemon,
            lambda: send("PROBLEM", "CRITICAL", "DISK CRITICAL - free space 1%"),
            lambda: send("RECOVERY", "OK", "DISK OK"),
        )


def _mail_shim(directory: Path, port: int) -> Path:
    """Stands in for /usr/bin/mail on the monitoring host: `mail -s SUBJECT TO`, the body
    on standard input, handed to an SMTP server (the gateway's, as the MTA would relay)."""
    shim = directory / "mail"
    shim.write_text(
        "#!/bin/sh\n"
        '[ "$1" = "-s" ] || exit 64\n'
        f"exec swaks --silent 2 --server 127.0.0.1:{port} --from nagios@monitor.example.org "
        '--to "$3" --header "Subject: $2" --body -\n'
    )
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return shim


async def test_nagios_mail_notification_command(gateway_config: Any, tmp_path: Path) -> None:
    require("swaks", shutil.which("swaks") is not None)
    command_line = _nagios_commands("nagios-mail")["notify-service-by-email-to-intake-gateway"]
    assert "| /usr/bin/mail -s " in command_line
    async with running_daemon(gateway_config) as daemon:
        mail = str(_mail_shim(tmp_path, smtp_port(daemon)))

        async def send(state: Mapping[str, str]) -> None:
            expanded = _expand(command_line, {**SERVICE_MACROS, **state})
            await _shell(expanded.replace("/usr/bin/mail", mail))

        await _one_incident_then_resolved(daemon, lambda: send(PROBLEM), lambda: send(RECOVERY))
        incident = (await daemon.incidents())[0]
        assert incident["ci"] == "web01" or "web01" in incident["title"], incident


UPDATE_MACROS = (
    "{EVENT.UPDATE.ACTION}",
    "{EVENT.UPDATE.MESSAGE}",
    "{EVENT.UPDATE.DATE}",
    "{EVENT.UPDATE.TIME}",
    "{USER.FULLNAME}",
)
ZABBIX_PROBLEM = {
    "{EVENT.ID}": "98231",
    "{EVENT.VALUE}": "1",
    "{EVENT.UPDATE.STATUS}": "0",
    "{EVENT.SEVERITY}": "High",
    "{EVENT.NSEVERITY}": "4",
    "{EVENT.NAME}": "Interface eth0: Link down",
    "{EVENT.TAGSJSON}": '[{"tag":"service","value":"core-network"}]',
    "{EVENT.DATE}": "2024.05.03",
    "{EVENT.TIME}": "10:15:30",
    "{EVENT.RECOVERY.ID}": "{EVENT.RECOVERY.ID}",  # not expanded in a problem message
    **{macro: macro for macro in UPDATE_MACROS},  # nor are these (updates only)
    "{TRIGGER.ID}": "23871",
    "{TRIGGER.NAME}": "Interface eth0: Link down",
    "{HOST.NAME}": "sw-core-01",
    "{HOST.IP}": "10.1.0.2",
    "{ALERT.SUBJECT}": "Problem: Interface eth0: Link down",
    "{ALERT.MESSAGE}": "Problem started at 10:15:30 on 2024.05.03",
    "{$ZABBIX.URL}": "https://zabbix.example.org/",
}
# what the action's update operations send: an operator's acknowledgement, then a comment
ZABBIX_UPDATES = [
    {
        **ZABBIX_PROBLEM,
        "{EVENT.UPDATE.STATUS}": "1",
        "{ALERT.SUBJECT}": "Updated problem: Interface eth0: Link down",
        "{ALERT.MESSAGE}": f"Jane Doe {action} problem at 2024.05.03 {at}.\n{message}",
        "{EVENT.UPDATE.ACTION}": action,
        "{EVENT.UPDATE.MESSAGE}": message,
        "{EVENT.UPDATE.DATE}": "2024.05.03",
        "{EVENT.UPDATE.TIME}": at,
        "{USER.FULLNAME}": "Jane Doe (jdoe)",
    }
    for action, message, at in (
        ("acknowledged", "Checking the uplink with the carrier.", "10:20:11"),
        ("commented", "The carrier replaces the SFP at 11:00.", "10:41:05"),
    )
]
ZABBIX_RECOVERY = {
    **ZABBIX_PROBLEM,
    "{EVENT.VALUE}": "0",
    "{EVENT.RECOVERY.ID}": "98305",
    "{ALERT.SUBJECT}": "Resolved: Interface eth0: Link down",
}

# Zabbix runs a webhook script as a function of `value` (the parameters as JSON) with
# HttpRequest and Zabbix.log; under node, HttpRequest posts with curl, synchronously.
NODE_SHIM = """
const { execFileSync } = require('child_process');
function HttpRequest() { this.headers = []; this.status = 0; }
HttpRequest.prototype.addHeader = function (h) { this.headers.push(h); };
HttpRequest.prototype.getStatus = function () { return this.status; };
HttpRequest.prototype.post = function (url, body) {
  const args = ['-sS', '-X', 'POST', '--data-binary', '@-', '-w', '\\n%{http_code}'];
  for (const h of this.headers) { args.push('-H', h); }
  args.push(url);
  const out = execFileSync('curl', args, { input: body }).toString();
  const cut = out.lastIndexOf('\\n');
  this.status = parseInt(out.slice(cut + 1), 10);
  return out.slice(0, cut);
};
const Zabbix = { log: function (level, message) { process.stderr.write(message + '\\n'); } };
const result = (function (value) { SCRIPT })(process.argv[1]);
process.stdout.write(String(result));
"""


def _zabbix_params(macros: Mapping[str, str], url: str) -> str:
    media = _yaml(ZABBIX_MEDIA.read_text())["zabbix_export"]["media_types"][0]
    params = {item["name"]: item["value"] for item in media["parameters"]}
    unset = [value for value in params.values() if value.startswith("{") and value not in macros]
    assert not unset, f"the test does not set {unset}"
    expanded = {name: macros.get(value, value) for name, value in params.items()}
    expanded["URL"], expanded["token"] = url, TOKEN
    return json.dumps(expanded)


async def test_zabbix_media_type_script(gateway_config: Any) -> None:
    node = shutil.which("node") or shutil.which("nodejs")
    require("node (Debian package nodejs) to run the media type's script", node is not None)
    assert node is not None
    script = _yaml(ZABBIX_MEDIA.read_text())["zabbix_export"]["media_types"][0]["script"]
    program = NODE_SHIM.replace("SCRIPT", script)
    async with running_daemon(gateway_config) as daemon:
        url = f"{daemon.base_url}/webhooks/zabbix"

        async def run(macros: Mapping[str, str]) -> None:
            assert await _run(node, "-e", program, _zabbix_params(macros, url)) == "OK"

        async def problem() -> None:
            await run(ZABBIX_PROBLEM)
            # each update of the problem is stored: two are two occurrences, not a duplicate
            for update in ZABBIX_UPDATES:
                await run(update)
            [event] = await eventually(
                lambda: _events(daemon, "zabbix"),
                lambda found: len(found) == 1 and found[0]["count"] == 3,
            )
            assert event["description"].endswith(ZABBIX_UPDATES[-1]["{EVENT.UPDATE.MESSAGE}"])

        async def recovery() -> None:
            await run(ZABBIX_RECOVERY)

        await _one_incident_then_resolved(daemon, problem, recovery)
        # Zabbix re-sends after a timeout: the delivery id makes it a duplicate
        await run(ZABBIX_RECOVERY)
        assert len(await daemon.incidents()) == 1


async def test_grafana_contact_point(gateway_config: Any) -> None:
    receiver = _yaml(snippet("grafana"))["contactPoints"][0]["receivers"][0]
    assert receiver["type"] == "webhook" and receiver["disableResolveMessage"] is False
    settings = receiver["settings"]
    async with running_daemon(gateway_config) as daemon:
        url = settings["url"].replace(DOC_URL, daemon.base_url)
        # what Grafana sends for such a contact point: its webhook payload, with
        # "Authorization: <scheme> <credentials>"
        headers = {"Authorization": f"{settings['authorization_scheme']} {TOKEN}"}

        async def send(payload: dict[str, Any]) -> None:
            async with (
                aiohttp.ClientSession() as http,
                http.request(
                    settings["httpMethod"],
                    url,
                    data=orjson.dumps(payload),
                    headers={**headers, "Content-Type": "application/json"},
                ) as response,
            ):
                assert response.status == 202, await response.text()

        firing = orjson.loads((FIXTURES / "grafana" / "unified_firing.json").read_bytes())
        await send(firing)
        opened = await eventually(lambda: _statuses(daemon), lambda seen: len(seen) >= 1)
        assert set(opened.values()) == {"new"}
        # the same alerts as Grafana sends them when they recover
        ended = datetime.now(UTC).isoformat()
        alerts = [{**alert, "status": "resolved", "endsAt": ended} for alert in firing["alerts"]]
        await send({**firing, "status": "resolved", "alerts": alerts})
        after = await eventually(
            lambda: _statuses(daemon), lambda seen: set(seen.values()) == {"resolved"}
        )
        assert after.keys() == opened.keys()


async def test_alertmanager_receiver_through_alertmanager(
    gateway_config: Any, tmp_path: Path
) -> None:
    config = _yaml(snippet("alertmanager"))
    webhook = config["receivers"][0]["webhook_configs"][0]
    assert webhook["send_resolved"] is True
    token_file = tmp_path / "intake-gateway.token"
    token_file.write_text(TOKEN)
    async with running_daemon(gateway_config) as daemon:
        webhook["url"] = webhook["url"].replace(DOC_URL, daemon.base_url)
        webhook["http_config"]["authorization"]["credentials_file"] = str(token_file)
        # the snippet's timings, shortened so the test does not wait half a minute
        config["route"].update(group_wait="1s", group_interval="1s")
        async with running_alertmanager(config, tmp_path / "alertmanager") as manager:
            labels = {"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical"}
            started = datetime.now(UTC) - timedelta(minutes=1)

            async def firing() -> None:
                alert = postable_alert(labels, started, started + timedelta(hours=1))
                await manager.post_alerts([alert])

            async def resolved() -> None:
                alert = postable_alert(labels, started, datetime.now(UTC) - timedelta(seconds=1))
                await manager.post_alerts([alert])

            await _one_incident_then_resolved(daemon, firing, resolved)
