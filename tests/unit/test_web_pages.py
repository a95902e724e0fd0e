"""The pages' foundation without a server: languages, catalogs, sessions, the
login limiter, client addresses behind proxies, autoescape."""

from __future__ import annotations

import re
import time
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from gateway.web.i18n import Catalogs, language_of
from gateway.web.loginlimit import LoginLimiter
from gateway.web.sessions import SessionCodec
from gateway.web.templating import Viewer, page_environment
from gateway.web.zones import local_time, viewer_zone

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
_MESSAGE = re.compile(r"""_\((?:"([^"]+)"|'([^']+)')\s*[,)]""")
_PY_MESSAGE = re.compile(r'translate\(\s*"([^"]+)"')


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        (None, "en-US,en;q=0.9,zh;q=0.8", "en"),
        (None, "fr-FR, zh-Hans;q=0.5", "zh"),
        (None, "", "en"),
        (None, "zh;q=abc, en;q=0.1", "en"),
        ("en", "zh-CN", "en"),
        ("xx", "zh-TW", "zh"),
    ],
)
def test_language_from_cookie_then_accept_language(
    cookie: str | None, header: str, expected: str
) -> None:
    assert language_of(cookie, header) == expected


def test_every_message_of_the_console_has_a_chinese_translation() -> None:
    catalogs = Catalogs.load([GATEWAY / "console" / "locale"])
    messages = {
        match.group(1) or match.group(2)
        for part in ("console", "web")
        for path in GATEWAY.glob(f"{part}/templates/*.html")
        for match in _MESSAGE.finditer(path.read_text(encoding="utf-8"))
    }
    messages |= {
        match.group(1)
        for path in GATEWAY.glob("console/*.py")
        for match in _PY_MESSAGE.finditer(path.read_text(encoding="utf-8"))
    }
    assert len(messages) > 40
    missing = sorted(m for m in messages if m not in catalogs.by_language["zh"])
    assert missing == []


def test_autoescape_shows_markup_as_text() -> None:
    env = page_environment([GATEWAY / "console" / "templates"])
    template = env.from_string("<p>{{ title }}</p>")
    assert template.render(title="<script>alert(1)</script>") == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )
    assert env.get_template("error.html").environment.autoescape is True


def test_session_codec_refuses_forged_idle_and_old_sessions() -> None:
    codec = SessionCodec(b"k" * 32, timedelta(minutes=10), timedelta(hours=1))
    now = time.time()
    session = codec.begin("olga", "stamp", now)
    cookie = codec.encode(session)
    assert codec.decode(cookie, now + 60) == session
    assert codec.decode(cookie, now + 11 * 60) is None  # idle
    other = SessionCodec(b"x" * 32, timedelta(minutes=10), timedelta(hours=1))
    assert other.decode(cookie, now) is None  # another key
    body, _, sig = cookie.rpartition(".")
    assert codec.decode(body[:-1] + ("A" if body[-1] != "A" else "B") + "." + sig, now) is None
    renewed = codec.renewed(session, now + 9 * 60)
    assert renewed is not None
    # renewals cannot stretch a session past its maximum age
    late = codec.encode(codec.renewed(renewed, now + 3599) or renewed)
    assert codec.decode(late, now + 3601) is None
    assert codec.csrf_ok(session, codec.csrf(session))
    assert not codec.csrf_ok(session, "")
    assert not codec.csrf_ok(session, None)


def test_login_limiter_counts_per_key_within_the_window() -> None:
    limiter = LoginLimiter(attempts=2, window=60)
    keys = ("addr:10.0.0.1", "user:olga")
    limiter.failed(keys, 0)
    assert limiter.retry_after(keys, 1) == 0
    limiter.failed(keys, 1)
    assert limiter.retry_after(keys, 2) == pytest.approx(58)
    assert limiter.retry_after(("addr:10.0.0.2", "user:vera"), 2) == 0
    assert limiter.retry_after(keys, 61.5) == 0


def test_viewer_zone_and_local_time() -> None:
    shanghai = viewer_zone("Asia/Shanghai")
    assert local_time("2026-12-05T16:04:00Z", shanghai) == "2026-12-06 00:04"
    assert viewer_zone("../../etc/passwd") is UTC
    assert viewer_zone("Not/AZone") is UTC
    assert local_time(None, UTC) == ""


def test_translator_formats_values() -> None:
    catalogs = Catalogs.load([GATEWAY / "console" / "locale"])
    viewer = Viewer(translate=catalogs.translator("zh"), zone=UTC)
    assert viewer.translate("Times in {zone}", zone="UTC") == "时间按 UTC 显示"
    assert catalogs.translator("en")("Times in {zone}", zone="UTC") == "Times in UTC"


def test_sla_clocks_count_service_time_on_the_targets_calendar() -> None:
    from datetime import datetime, time
    from types import SimpleNamespace
    from typing import Any, cast
    from zoneinfo import ZoneInfo

    from gateway.console.slaclocks import clocks, span
    from rules.calendars import WorkingHours
    from rules.decision import Priority
    from rules.sla import EscalationAction, SlaTable, SlaTarget

    office = WorkingHours(
        "office",
        ZoneInfo("Asia/Shanghai"),
        {day: ((time(9), time(17)),) for day in range(5)},
        frozenset(),
    )
    table = SlaTable(
        {(Priority.P2, ""): SlaTarget(office, timedelta(hours=1), timedelta(hours=8))},
        0.8,
        EscalationAction(),
        EscalationAction(),
    )
    ruleset = cast(Any, SimpleNamespace(sla=table))
    # Friday 16:00 in Shanghai: the resolution is due Monday 15:00 (8 service hours)
    now = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    incident = {
        "priority": "P2",
        "service": "mail",
        "status": "acknowledged",
        "acknowledged_at": "2026-12-04T07:30:00Z",
        "sla": {
            "response_due": "2026-12-04T07:45:00Z",
            "resolution_due": "2026-12-07T07:00:00Z",
            "response_breached": False,
            "resolution_breached": False,
        },
    }
    response, resolution = clocks(incident, ruleset, now)
    assert response.stopped and response.left is None
    assert not resolution.stopped and resolution.calendar == "office"
    # one hour on Friday, six on Monday: not the 71 hours of wall time
    assert resolution.left == timedelta(hours=7)
    assert span(timedelta(days=1, hours=2, minutes=5)) == (1, 2, 5)
    late = clocks({**incident, "acknowledged_at": None}, ruleset, now)[0]
    assert late.overdue == timedelta(minutes=15) and late.left is None


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ("/ui/incidents/INC-000001", "/ui/incidents/INC-000001"),
        ("/ui/silences?all=1", "/ui/silences?all=1"),
        ("//evil.example/ui/", "/ui/incidents"),
        ("https://evil.example/ui/", "/ui/incidents"),
        ("/ui/\\evil", "/ui/incidents"),
        ("/portal/", "/ui/incidents"),
        (None, "/ui/incidents"),
    ],
)
def test_after_login_only_a_console_path(asked: str | None, expected: str) -> None:
    from gateway.console.access import safe_next

    assert safe_next(asked) == expected


def test_client_address_behind_trusted_proxies() -> None:
    from aiohttp.test_utils import make_mocked_request

    from gateway.web.clientaddr import ClientAddresses, networks

    def client(peer: str, trusted: tuple[str, ...], **headers: str) -> str | None:
        request = make_mocked_request("GET", "/", headers=headers)
        request._transport_peername = (peer, 1234)  # the connection's peer
        found = ClientAddresses(lambda: networks(trusted)).client(request)
        return str(found) if found is not None else None

    assert client("127.0.0.1", ()) == "127.0.0.1"
    # an undeclared proxy relayed it: the client is unknown, not loopback
    assert client("127.0.0.1", (), **{"X-Forwarded-For": "203.0.113.9"}) is None
    trusted = ("127.0.0.1/32", "10.0.0.0/8")
    assert client("127.0.0.1", trusted, **{"X-Forwarded-For": "203.0.113.9"}) == "203.0.113.9"
    # read from the right, skipping trusted hops; what the client wrote itself is not believed
    chain = "198.51.100.1, 203.0.113.9, 10.1.2.3"
    assert client("127.0.0.1", trusted, **{"X-Forwarded-For": chain}) == "203.0.113.9"
    assert client("127.0.0.1", trusted, **{"X-Forwarded-For": "garbage"}) is None
