"""The smtp:, mailboxes: and imap: sections: validation with file:line, secrets, defaults."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.records import Channel, IntakeRecord
from gateway.config.model import LoadedConfig, load_config
from gateway.intake.smtp import network_allows
from gateway.runtime import compile_runtime
from tests.integration.mail_support import self_signed_certificate

BASE = """\
storage:
  url: sqlite://{tmp}/g.sqlite3
rules:
  dir: {tmp}/rules
  catalogue: null
"""

MAILBOXES = """\
mailboxes:
  - name: helpdesk
    address: Helpdesk@Example.org
    service: service-desk
    type: service_request
  - name: alerts
    address: alerts@example.org
"""


def _load(tmp_path: Path, text: str) -> LoadedConfig:
    (tmp_path / "rules").mkdir(exist_ok=True)
    path = tmp_path / "gateway.yaml"
    path.write_text(BASE.format(tmp=tmp_path) + text)
    return load_config(path)


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, text)
    return raised.value.problems


def test_full_mail_config_loads_with_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAP_PASSWORD", "imap-secret")
    (tmp_path / "smtp-password").write_text("smtp-secret\n")
    cert, key = self_signed_certificate(tmp_path)
    text = (
        MAILBOXES
        + f"""\
smtp:
  enabled: true
  listen: 127.0.0.1:2525
  allowed_networks: [127.0.0.0/8, "::1/128"]
  tls: {{cert_file: {cert}, key_file: {key}}}
  auth:
    users:
      - {{username: monitor, password: {{file: {tmp_path}/smtp-password}}}}
imap:
  accounts:
    - name: support
      mailbox: helpdesk
      host: imap.example.org
      username: support
      password: {{env: IMAP_PASSWORD}}
      after: move
      processed_folder: Done
"""
    )
    loaded = _load(tmp_path, text)
    secret = loaded.secrets.get("smtp.auth.monitor")
    assert secret is not None and secret.get_secret_value() == "smtp-secret"
    imap_secret = loaded.secrets.get("imap.support.password")
    assert imap_secret is not None and imap_secret.get_secret_value() == "imap-secret"
    account = loaded.config.imap.accounts[0]
    assert account.effective_port == 993 and account.folders == ("INBOX",)
    runtime = compile_runtime(loaded)
    assert set(runtime.mailboxes) == {"helpdesk@example.org", "alerts@example.org"}
    assert {"helpdesk", "alerts"} <= set(runtime.parsers)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("smtp:\n  enabled: true\n", "gateway.yaml:7: smtp: enabled, but no mailboxes"),
        (
            MAILBOXES + "  - name: other\n    address: HELPDESK@example.org\n",
            "gateway.yaml:14: mailboxes.other.address: 'HELPDESK@example.org' is listed twice",
        ),
        (
            MAILBOXES + "smtp:\n  allowed_networks: [10.0.0.1/8]\n",
            "gateway.yaml:14: smtp.allowed_networks: '10.0.0.1/8' is not a CIDR network",
        ),
        (
            MAILBOXES + "smtp:\n  auth:\n    users: [{username: a, password: b}]\n",
            "gateway.yaml:13: smtp: auth needs tls",
        ),
        (
            MAILBOXES + "mailboxes_typo: []\n",
            "gateway.yaml:13: mailboxes_typo: unknown option",
        ),
        (
            MAILBOXES.replace("type: service_request", "type: outage"),
            "gateway.yaml:10: mailboxes.0.type: Input should be",
        ),
        (
            MAILBOXES + "imap:\n  accounts:\n    - {name: a, mailbox: nowhere, host: h, "
            "username: u, password: p}\n",
            "gateway.yaml:15: imap.accounts.a.mailbox: 'nowhere' is not in mailboxes",
        ),
        (
            MAILBOXES + "imap:\n  accounts:\n    - {name: a, mailbox: alerts, host: h, "
            "username: u, password: p, after: move}\n",
            "gateway.yaml:15: imap.accounts.0: after: move needs processed_folder",
        ),
        (
            MAILBOXES + "imap:\n  accounts:\n    - {name: a, mailbox: alerts, host: h, "
            "username: u, password: {env: NOT_SET_ANYWHERE_42}}\n",
            "imap.a.password: environment variable NOT_SET_ANYWHERE_42 is not set",
        ),
        (
            MAILBOXES.replace("service: service-desk", "options: {key_prefx: X}"),
            "gateway.yaml:9: mailboxes.helpdesk.options.key_prefx: Extra inputs",
        ),
        (
            MAILBOXES.replace("service: service-desk", "acknowledge: {sink: answers}"),
            "gateway.yaml:9: mailboxes.helpdesk.acknowledge.sink: 'answers' is not an email "
            "sink in sinks",
        ),
        (
            MAILBOXES.replace(
                "service: service-desk", "acknowledge: {sink: answers, max_per_sender: 0}"
            ),
            "gateway.yaml:9: mailboxes.0.acknowledge.max_per_sender: Input should be",
        ),
    ],
)
def test_mistakes_are_reported_with_their_line(tmp_path: Path, text: str, expected: str) -> None:
    problems = _problems(tmp_path, text)
    assert any(expected in problem for problem in problems), problems


def test_mailbox_defaults_are_added_to_parsed_events(tmp_path: Path) -> None:
    runtime = compile_runtime(_load(tmp_path, MAILBOXES))
    record = IntakeRecord(
        id=1,
        channel=Channel.SMTP,
        source="helpdesk",
        kind="email",
        received_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        raw=b"From: a@client.example\r\nSubject: need access\r\n\r\nplease\r\n",
    )
    [event] = runtime.parsers["helpdesk"].parse(record)
    assert event.service == "service-desk"
    assert event.labels["incident_type"] == "service_request"
    [other] = runtime.parsers["alerts"].parse(record)
    assert other.service == "" and other.labels["incident_type"] == "incident"


@pytest.mark.parametrize(
    ("peer", "allowed"),
    [
        ("10.1.2.3", True),
        ("::ffff:10.1.2.3", True),  # IPv4-mapped, as seen on a dual-stack listener
        ("192.168.1.1", False),
        ("fd00::1", True),
        ("fe80::1%eth0", False),
        ("not-an-address", False),
    ],
)
def test_client_networks(peer: str, allowed: bool) -> None:
    networks = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))
    assert network_allows(networks, peer) is allowed
