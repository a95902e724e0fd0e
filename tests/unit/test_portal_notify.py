"""Who is never mailed, and when quiet hours hold notices back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.config.mail import QuietHours
from gateway.portal.notify import automated, in_quiet_hours
from storage.requester_mail import Change

OWN = frozenset({"helpdesk@example.org"})


def _change(requester: str, source: str = "helpdesk", mail_kind: str = "new") -> Change:
    return Change(1, "resolved", 1, requester, "title", source, mail_kind)


@pytest.mark.parametrize(
    ("change", "machine"),
    [
        (_change("alice@corp.example"), False),
        (_change("alice@corp.example", mail_kind="reply"), False),
        (_change("nagios@mon.example", mail_kind="monitoring"), True),
        (_change("alice@corp.example", mail_kind=""), True),  # opened by no mail at all
        (_change("no-reply@vendor.example"), True),
        (_change("noreply+abc@vendor.example"), True),
        (_change("mailer-daemon@corp.example"), True),
        (_change("helpdesk@example.org"), True),
        (_change("bob@corp.example", source="portal", mail_kind=""), False),
        (_change("norah@corp.example"), False),
    ],
)
def test_automated_senders_are_never_mailed(change: Change, machine: bool) -> None:
    assert automated(change, OWN) is machine


@pytest.mark.parametrize(
    ("hours", "at", "quiet"),
    [
        (
            QuietHours(start="22:00", end="07:00", timezone="Asia/Shanghai"),
            "2026-12-05T15:00Z",
            True,
        ),
        (
            QuietHours(start="22:00", end="07:00", timezone="Asia/Shanghai"),
            "2026-12-05T22:30Z",
            True,
        ),
        (
            QuietHours(start="22:00", end="07:00", timezone="Asia/Shanghai"),
            "2026-12-05T01:00Z",
            False,
        ),
        (QuietHours(start="12:00", end="13:00"), "2026-12-05T12:30Z", True),
        (QuietHours(start="12:00", end="13:00"), "2026-12-05T13:00Z", False),
        (None, "2026-12-05T03:00Z", False),
    ],
)
def test_quiet_hours(hours: QuietHours | None, at: str, quiet: bool) -> None:
    now = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(UTC)
    assert in_quiet_hours(hours, now) is quiet
