"""Sink templates: sandboxed, strict, JSON-safe, errors with their line; config checks;
robot signatures; mail header safety."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from core.errors import ConfigError
from core.outbox import OutboxAction
from sinks.config import SinkConfig, sink_problems
from sinks.delivery import Delivery
from sinks.dingtalk import dingtalk_sign
from sinks.email import EmailSink, message_id, one_line
from sinks.feishu import feishu_sign
from sinks.registry import SINKS, templates_for
from sinks.templates import TemplateFailed, Templates

INCIDENT: dict[str, Any] = {
    "id": 7,
    "key": "INC-000007",
    "title": 'Disk "full"\r\nBcc: x@example.org',
    "type": "incident",
    "status": "new",
    "priority": "P2",
    "impact": 2,
    "urgency": 2,
    "major": False,
    "service": "billing",
    "ci": "db1",
    "category": "",
    "assignment_group": "dba",
    "requester": "",
    "event_count": 3,
    "created_at": "2026-03-02T09:00:00Z",
    "sla": {"response_due": "2026-03-02T09:30:00Z", "resolution_due": None},
}
ADAPTER: TypeAdapter[SinkConfig] = TypeAdapter(SinkConfig)


def delivery(action: OutboxAction = OutboxAction.CREATE, **extra: Any) -> Delivery:
    return Delivery(action=action, incident=INCIDENT, idempotency_key="7:create", **extra)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "override.j2"
    path.write_text(text)
    return path


@pytest.mark.parametrize("kind", sorted(SINKS))
@pytest.mark.parametrize("action", list(OutboxAction))
def test_every_shipped_template_renders_every_action(kind: str, action: OutboxAction) -> None:
    templates = Templates({}, SINKS[kind].templates)
    context = delivery(
        action,
        notes=("a reply",),
        occurrences=2,
        changes={"priority": ["P3", "P2"]},
        escalation={"kind": "response", "level": "near_breach", "due": "09:30"},
    ).context()
    for role in SINKS[kind].templates:
        rendered = templates.render(role, context)
        assert rendered.strip(), (kind, role)
        if role == "body" and kind == "webhook":
            assert templates.render_json(role, context)["incident"]["title"] == INCIDENT["title"]


def test_the_sandbox_refuses_internals(tmp_path: Path) -> None:
    templates = Templates(
        {"body": write(tmp_path, "{{ incident.__class__.__mro__ }}")},
        {"body": "webhook_body.json.j2"},
    )
    with pytest.raises(TemplateFailed, match=r"SecurityError|UndefinedError|unsafe"):
        templates.render("body", delivery().context())


def test_an_undefined_name_fails_with_its_line(tmp_path: Path) -> None:
    templates = Templates(
        {"message": write(tmp_path, "line one\n\n{{ incident.nope }}\n")},
        {"message": "chat_message.md.j2"},
    )
    with pytest.raises(TemplateFailed, match=r"line 3: UndefinedError"):
        templates.render("message", delivery().context())


def test_a_broken_override_is_a_startup_error_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"line 2"):
        Templates({"message": write(tmp_path, "ok\n{% if %}\n")}, {"message": "chat_message.md.j2"})
    with pytest.raises(ConfigError, match="unknown name subject"):
        Templates({"subject": write(tmp_path, "x")}, {"message": "chat_message.md.j2"})


def test_render_json_refuses_what_is_not_json(tmp_path: Path) -> None:
    templates = Templates(
        {"body": write(tmp_path, '{"title": "{{ incident.title }}"}')},
        {"body": "webhook_body.json.j2"},
    )
    with pytest.raises(TemplateFailed, match="did not render JSON"):
        templates.render_json("body", delivery().context())  # no tojson: the quote breaks it


def test_config_refuses_unknown_kinds_and_options() -> None:
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        ADAPTER.validate_python({"name": "x", "kind": "fax"})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ADAPTER.validate_python({"name": "x", "kind": "webhook", "url": "http://h", "colour": 1})


def test_config_cross_checks() -> None:
    sinks = [
        ADAPTER.validate_python(
            {"name": "a", "kind": "webhook", "url": "http://h", "fallback": "zz"}
        ),
        ADAPTER.validate_python(
            {"name": "a", "kind": "webhook", "url": "http://h", "fallback": "a"}
        ),
        ADAPTER.validate_python(
            {
                "name": "j",
                "kind": "jira",
                "url": "http://j",
                "project": "OPS",
                "token": {"env": "SURELY_NOT_SET_ANYWHERE"},
                "priority_map": {"P1": "Highest"},
            }
        ),
    ]
    problems = sink_problems(sinks)
    assert "sinks.a: the name is used twice" in problems
    assert "sinks.a.fallback: no sink named 'zz'" in problems
    assert "sinks.a.fallback: a sink cannot fall back to itself" in problems
    assert "sinks.j.priority_map: no value for P2, P3, P4" in problems
    assert any(p.startswith("sinks.j.token: environment variable") for p in problems)


def test_templates_for_uses_the_kind_roles(tmp_path: Path) -> None:
    config = ADAPTER.validate_python(
        {
            "name": "m",
            "kind": "email",
            "host": "h",
            "from_address": "a@b",
            "to": ["c@d"],
            "templates": {"subject": str(write(tmp_path, "[{{ incident.key }}] custom"))},
        }
    )
    assert templates_for(config).render("subject", delivery().context()) == "[INC-000007] custom"


def test_dingtalk_and_feishu_signatures_follow_their_documents() -> None:
    stamp = 1700000000000
    digest = hmac.new(b"SECx", f"{stamp}\nSECx".encode(), hashlib.sha256).digest()
    assert dingtalk_sign("SECx", stamp) == base64.b64encode(digest).decode().replace(
        "+", "%2B"
    ).replace("/", "%2F").replace("=", "%3D")
    key = f"{1700000000}\nfs".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert feishu_sign("fs", 1700000000) == expected


class _NoTransport:
    async def send(self, message: Any, sender: str, recipients: list[str]) -> str:
        raise AssertionError("not sent in this test")


def test_mail_headers_never_carry_line_breaks_from_incident_data() -> None:
    config = ADAPTER.validate_python(
        {
            "name": "m",
            "kind": "email",
            "host": "h",
            "from_address": "gw@example.org",
            "to": ["oncall@example.org"],
            "message_id_domain": "gw.example.org",
        }
    )
    sink = EmailSink(config, _NoTransport(), templates_for(config))  # type: ignore[arg-type]
    message = sink.compose(delivery(), None)
    raw = message.as_bytes()
    assert b"\r\nBcc:" not in raw and b"\nBcc:" not in raw.split(b"\n\n", 1)[0]
    assert message["Subject"] == '[INC-000007] Disk "full" Bcc: x@example.org'
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] == message_id("7:create", "INC-000007", "gw.example.org")
    assert one_line("a\r\nb\tc\x00d") == "a b c d"
