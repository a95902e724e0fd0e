"""The shipped example rules and catalogue in a test daemon: what a new user starts from.

The daemon's clock cannot be advanced, so the rules are copied with a short
hold-down (``resolve_hold_down``) and the periodic job runs often, and the
weekly maintenance window is moved to a weekday three days away, so what a
test sees does not depend on the hour it runs at (the window itself is proven
by test-rules on a clock the scenario moves); the rest is the example as shipped.
Sinks named by the rules exist but are disabled, so their rows wait in the
outbox as they would in the example config.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
import smtplib
from pathlib import Path
from typing import Any

from tests.integration.daemon import RunningDaemon
from tests.integration.mail_support import smtp_port, smtp_section

CONFIG = Path(__file__).resolve().parents[2] / "config"
EXAMPLE_RULES = CONFIG / "rules"
PAYLOADS = EXAMPLE_RULES / "tests" / "payloads"
ALERTS = "alerts@example.org"

INTEGRATIONS = [
    {"name": kind, "kind": kind}
    for kind in ("generic", "alertmanager", "grafana", "zabbix", "nagios", "icinga")
]
MAILBOXES = [
    {"name": "helpdesk", "address": "helpdesk@example.org", "service": "service-desk"},
    {"name": "alerts", "address": ALERTS, "options": {"default_severity": "high"}},
]
SINKS = [
    {"name": "helpdesk-mail", "kind": "email", "enabled": False, "host": "127.0.0.1",
     "port": 25, "from_address": "helpdesk@example.org", "to": ["servicedesk@example.org"]},
    {"name": "chat-ops", "kind": "slack", "enabled": False,
     "url": {"value": "https://hooks.slack.com/services/T/B/X"}},
    {"name": "change-management", "kind": "webhook", "enabled": False,
     "url": "https://change.example.org/api/requests"},
]  # fmt: skip


def example_rules(tmp_path: Path, hold_down: str = "1s") -> Path:
    """config/rules copied with ``resolve_hold_down`` set to ``hold_down``."""
    target = tmp_path / "example-rules"
    target.mkdir()
    for path in EXAMPLE_RULES.glob("*.yaml"):
        shutil.copy(path, target / path.name)
    settings = target / "00-settings.yaml"
    text, count = re.subn(
        r"resolve_hold_down: \S+", f"resolve_hold_down: {hold_down}", settings.read_text()
    )
    assert count == 1, "the example settings no longer set resolve_hold_down"
    settings.write_text(text)
    suppression = target / "10-suppression.yaml"
    far_day = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).strftime("%a").lower()
    text, count = re.subn(r"days: \[sun\]", f"days: [{far_day}]", suppression.read_text())
    assert count == 1, "the example no longer has its Sunday maintenance window"
    suppression.write_text(text)
    return target


def example_sections(tmp_path: Path, **rules: Any) -> dict[str, Any]:
    """Config sections for ``write_config``: every integration, both mailboxes, SMTP."""
    return {
        "integrations": INTEGRATIONS,
        "mailboxes": MAILBOXES,
        "smtp": smtp_section(),
        "sinks": SINKS,
        "rules": {
            "dir": str(rules.get("rules_dir") or example_rules(tmp_path)),
            "catalogue": str(CONFIG / "catalogue.yaml"),
        },
        "pipeline": {"recovery_interval_seconds": 0.2, "periodic_interval_seconds": 0.2},
    }


async def send_mail(daemon: RunningDaemon, raw: bytes, to: str = ALERTS) -> None:
    """Through the SMTP listener, from a thread: the daemon runs on this event loop."""
    await asyncio.to_thread(_send, smtp_port(daemon), raw, to)


def _send(port: int, raw: bytes, to: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("monitor.example.org")
        refused = client.sendmail("monitor@example.org", [to], raw)
        assert refused == {}, refused


async def incident_titled(daemon: RunningDaemon, title: str) -> dict[str, Any] | None:
    for item in await daemon.incidents():
        if item["title"] == title:
            return item
    return None
