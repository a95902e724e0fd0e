"""What the portal tests share: a daemon with the portal on, mail in by SMTP, the answer
captured by a local SMTP server, the link read from it."""

from __future__ import annotations

import asyncio
import re
import smtplib
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from gateway.config.model import LoadedConfig
from gateway.portal.links import LinkSigner
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually
from tests.integration.fakes.mail import Capture
from tests.integration.mail_support import ALERTS, HELPDESK, smtp_port, smtp_section

GATEWAY = "helpdesk-bot@example.org"
KEY_NEW = "portal-key-2026-12-a0c1e7f3b9d2e4f6a8c0"
KEY_OLD = "portal-key-2026-06-5d7f9b1c3e5a7c9e1f3b"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
CATALOGUE = """
assignment_groups:
  - name: service-desk
services:
  - name: mail
    assignment_group: service-desk
  - name: workplace
    assignment_group: service-desk
"""
_LINK = re.compile(r"https?://\S+/portal/status/[A-Za-z0-9_.\-]+")


def portal_config(
    write_config: ConfigWriter,
    database_url: str,
    smtp_sink_port: int,
    *,
    keys: Sequence[str] = (KEY_NEW, KEY_OLD),
    tickets_url: str | None = None,
    catalogue: Path | None = None,
    http: dict[str, Any] | None = None,
    notify: dict[str, Any] | None = None,
    storage: dict[str, Any] | None = None,
    console: dict[str, Any] | None = None,
    **portal: Any,
) -> LoadedConfig:
    """SMTP in, answers out to ``smtp_sink_port``, the portal on at a placeholder
    base_url (the tests read the token and talk to the daemon's real port);
    ``tickets_url``: every incident is also forwarded to a webhook sink there."""
    tickets = []
    if tickets_url is not None:
        tickets = [
            {
                "name": "tickets",
                "kind": "webhook",
                "url": tickets_url,
                "comment_interval_seconds": 0,
            }
        ]
    extra: dict[str, Any] = {}
    if catalogue is not None:
        catalogue.write_text(CATALOGUE, encoding="utf-8")
        extra["rules"] = {"catalogue": str(catalogue)}
    if http is not None:
        extra["http"] = http
    if console is not None:
        extra["console"] = console
    if storage is not None:
        extra["storage"] = {"url": database_url, **storage}
    if notify is not None:
        extra["pipeline"] = {"recovery_interval_seconds": 0.2, "periodic_interval_seconds": 0.2}
    loaded = write_config(
        database_url,
        **extra,
        smtp=smtp_section(),
        mailboxes=[
            {
                "name": "helpdesk",
                "address": HELPDESK,
                "service": "service-desk",
                "acknowledge": {"sink": "answers", "max_per_sender": 20},
                **({"notify": notify} if notify is not None else {}),
            },
            {"name": "alerts", "address": ALERTS},
        ],
        sinks=[
            {
                "name": "answers",
                "kind": "email",
                "host": "127.0.0.1",
                "port": smtp_sink_port,
                "security": "none",
                "from_address": GATEWAY,
                "to": ["desk@example.org"],
                "message_id_domain": "gw.example.org",
                "timeout_seconds": 5,
                "retry": {"base_seconds": 0.05, "cap_seconds": 0.1},
            },
            *tickets,
        ],
        portal={
            "enabled": True,
            "base_url": "https://help.example.org",
            "keys": list(keys),
            **portal,
        },
    )
    if tickets_url is not None:
        rules = Path(loaded.config.rules.dir) / "00-routes.yaml"
        rules.write_text("settings:\n  default_routes: [tickets]\n", encoding="utf-8")
    return loaded


async def send_mail(daemon: RunningDaemon, raw: bytes, sender: str, to: str = HELPDESK) -> None:
    def send() -> None:
        with smtplib.SMTP("127.0.0.1", smtp_port(daemon), timeout=10) as client:
            client.sendmail(sender, [to], raw)

    await asyncio.to_thread(send)


async def answers(capture: Capture, count: int = 1, within: float = 15) -> list[EmailMessage]:
    """The first ``count`` mails the gateway sent, once they came (within ``within`` s)."""
    found = await eventually(
        lambda: asyncio.sleep(0, capture.messages), lambda items: len(items) >= count, within
    )
    return list(found)


def link_in(mail: EmailMessage) -> str:
    body = mail.get_content()
    found = _LINK.search(body)
    assert found is not None, body
    return found.group(0)


def tampered(text: str) -> str:
    """One character inside a link's signature changed (the last one carries padding
    bits, which a change can leave meaning the same)."""
    return text[:-5] + ("A" if text[-5] != "A" else "B") + text[-4:]


def path_of(link: str) -> str:
    """The link as a path on the daemon (its base_url is a placeholder)."""
    return "/portal/" + link.split("/portal/", 1)[1]


def signer(keys: Sequence[str], at: datetime, days: int = 30) -> LinkSigner:
    """A signer whose clock stands at ``at``: links made in the past."""
    return LinkSigner(
        keys, base_url="https://help.example.org", lifetime=timedelta(days=days), clock=lambda: at
    )


async def post_form(
    daemon: RunningDaemon, path: str, form: dict[str, str], language: str = "en"
) -> tuple[int, str, str]:
    """(status, Location, body) of a form post, redirects not followed."""
    headers = {"Accept-Language": language}
    async with daemon.http.post(path, data=form, headers=headers, allow_redirects=False) as answer:
        return answer.status, answer.headers.get("Location", ""), await answer.text()


async def page(
    daemon: RunningDaemon, path: str, language: str = "en", **kwargs: Any
) -> tuple[int, str]:
    headers = {"Accept-Language": language}
    async with daemon.http.get(path, headers=headers, **kwargs) as response:
        return response.status, await response.text()
