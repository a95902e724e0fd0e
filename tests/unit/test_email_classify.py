"""What a mail is: new, reply, auto-reply, bounce; incident keys and event names."""

from __future__ import annotations

import pytest

from core.records import MailKind
from parsers.mail.classify import IncidentKeys, event_name, is_forward
from tests.unit.test_email_support import facts, mail, parse


@pytest.mark.parametrize(
    ("subject", "prefix", "keys"),
    [
        ("Re: [INC-000123] Printer broken", "INC", ("INC-000123",)),
        ("[inc-000123] lower case", "INC", ("INC-000123",)),
        ("【INC-000123】全角括号", "INC", ("INC-000123",)),
        ("[ INC-42 ] spaced", "INC", ("INC-42",)),
        ("[INC-1] and [INC-2] and [INC-1]", "INC", ("INC-1", "INC-2")),
        ("INC-000123 without brackets", "INC", ()),
        ("[INC-] no digits", "INC", ()),
        ("[SR-000777] service request", "SR", ("SR-000777",)),
        ("[INC-000123] other prefix", "SR", ()),
    ],
)
def test_incident_keys(subject: str, prefix: str, keys: tuple[str, ...]) -> None:
    assert IncidentKeys(prefix).found_in(subject) == keys


@pytest.mark.parametrize(
    ("subject", "name"),
    [
        ("Re: [INC-000123] Printer broken", "Printer broken"),
        ("RE: RE: Fwd: Printer broken", "Printer broken"),
        ("Fwd: Backup failed", "Backup failed"),
        ("FW: Backup failed", "Backup failed"),
        ("AW: WG: Drucker", "Drucker"),
        ("回复：[INC-000126] 无法访问内网", "无法访问内网"),
        ("转发: 数据库备份失败", "数据库备份失败"),
        ("Re[2]: ping", "ping"),
        ("   spaced    out   ", "spaced out"),
        ("", "(no subject)"),
        ("Re:", "(no subject)"),
        ("Regarding the VPN", "Regarding the VPN"),
        ("x" * 300, "x" * 200),
    ],
)
def test_event_name_is_the_subject_without_prefixes_and_keys(subject: str, name: str) -> None:
    assert event_name(subject, IncidentKeys("INC")) == name


@pytest.mark.parametrize(
    ("subject", "forward"),
    [
        ("Fwd: x", True),
        ("FW: x", True),
        ("转发：x", True),
        ("WG: x", True),
        ("Re: Fwd: x", False),
        ("Forward planning", False),
    ],
)
def test_is_forward(subject: str, forward: bool) -> None:
    assert is_forward(subject) is forward


AUTO_HEADERS = [
    ([("Auto-Submitted", "auto-replied")], "auto_submitted"),
    ([("Auto-Submitted", "auto-generated; owner-email=x@y")], "auto_submitted"),
    ([("X-Autoreply", "yes")], "x_autoreply"),
    ([("X-Autorespond", "")], "x_autoreply"),
    ([("X-Auto-Response-Suppress", "All")], "auto_response_suppress"),
    ([("X-Auto-Response-Suppress", "DR, OOF")], "auto_response_suppress"),
    ([("X-Auto-Response-Suppress", "AutoReply")], "auto_response_suppress"),
    ([("Precedence", "bulk")], "precedence"),
    ([("Precedence", "junk")], "precedence"),
    ([("Precedence", "List")], "precedence"),
    ([("List-Id", "<ops.lists.corp.example>")], "mailing_list"),
    ([("List-Unsubscribe", "<mailto:leave@corp.example>")], "mailing_list"),
    ([("Return-Path", "<>")], "null_sender"),
]


@pytest.mark.parametrize(("headers", "reason"), AUTO_HEADERS)
def test_automatic_mail_by_header(headers: list[tuple[str, str]], reason: str) -> None:
    event = parse(mail(headers))
    mail_facts = facts(event)

    assert mail_facts.kind is MailKind.AUTO_REPLY
    assert mail_facts.auto_submitted is True
    assert event.labels["auto_reason"] == reason


@pytest.mark.parametrize("mail_from", ["", "<>"])
def test_a_null_return_path_is_automatic(mail_from: str) -> None:
    event = parse(mail(), mail_from=mail_from)

    assert facts(event).kind is MailKind.AUTO_REPLY
    assert event.labels["auto_reason"] == "null_sender"


@pytest.mark.parametrize(
    "headers",
    [
        [("Auto-Submitted", "no")],
        [("X-Auto-Response-Suppress", "DR, RN, NRN")],
        [("Precedence", "first-class")],
        [("Return-Path", "<alice@corp.example>")],
    ],
)
def test_headers_that_do_not_make_mail_automatic(headers: list[tuple[str, str]]) -> None:
    mail_facts = facts(parse(mail(headers), mail_from="alice@corp.example"))

    assert (mail_facts.kind, mail_facts.auto_submitted) == (MailKind.NEW, False)


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: Printer broken",
        "Out of Office AutoReply: Printer broken",
        "Automatic reply: [INC-000123] Printer broken",
        "Auto-Reply: hello",
        "AutoReply: hello",
        "Autoreply: hello",
        "Abwesenheitsnotiz: Drucker",
        "Absence: back on Monday",
        "[Auto Reply] hello",
        "自动回复: 打印机故障",
        "自动回复：打印机故障",
        "自动答复: 打印机故障",
        "休假：11月30日返回",
        "不在办公室: 打印机故障",
        "Out of office",
    ],
)
def test_out_of_office_subjects(subject: str) -> None:
    event = parse(mail(subject=subject))

    assert facts(event).kind is MailKind.AUTO_REPLY
    assert event.labels["auto_reason"] == "out_of_office"


@pytest.mark.parametrize(
    "subject",
    [
        "Absence of backups on db01",
        "休假期间VPN无法连接",
        "Out of office hours support",
        "Question about automatic replies",
    ],
)
def test_requests_that_merely_mention_absence_stay_new(subject: str) -> None:
    assert facts(parse(mail(subject=subject))).kind is MailKind.NEW


@pytest.mark.parametrize(
    ("sender", "subject", "mail_from"),
    [
        ("MAILER-DAEMON@mx.corp.example", "Undelivered Mail Returned to Sender", None),
        (
            "Mail Delivery Subsystem <mailer-daemon@x.example>",
            "Delivery Status Notification (Failure)",
            None,
        ),
        ("postmaster@mail.example.cn", "系统退信", None),
        ("Exchange <exchange@corp.example>", "Undeliverable: Printer broken", ""),
        ("Mail Delivery System <x@y.example>", "Mail delivery failed: returning message", None),
    ],
)
def test_bounces_without_a_delivery_report(
    sender: str, subject: str, mail_from: str | None
) -> None:
    meta = {} if mail_from is None else {"mail_from": mail_from}
    event = parse(mail(subject=subject, sender=sender), **meta)

    assert facts(event).kind is MailKind.BOUNCE
    assert facts(event).auto_submitted is True
    assert event.labels["auto_reason"] == "daemon_subject"


def test_a_person_writing_about_an_undeliverable_mail_is_not_a_bounce() -> None:
    raw = mail(subject="Undeliverable: why do my mails bounce?", sender="bob@corp.example")

    assert facts(parse(raw, mail_from="bob@corp.example")).kind is MailKind.NEW


def test_a_read_receipt_is_automatic() -> None:
    body = (
        "--r\r\nContent-Type: text/plain\r\n\r\nYour message was displayed.\r\n"
        "--r\r\nContent-Type: message/disposition-notification\r\n\r\n"
        "Final-Recipient: rfc822; bob@corp.example\r\nDisposition: manual-action/MDN-sent-"
        "manually; displayed\r\n\r\n--r--\r\n"
    )
    content_type = 'multipart/report; report-type=disposition-notification; boundary="r"'
    event = parse(mail([("Content-Type", content_type)], body, subject="Read: Printer broken"))

    assert facts(event).kind is MailKind.AUTO_REPLY
    assert event.labels["auto_reason"] == "read_receipt"
    assert facts(event).body == "Your message was displayed."


@pytest.mark.parametrize(
    ("headers", "subject", "kind"),
    [
        ([], "[INC-000123] Printer broken", MailKind.REPLY),
        ([("In-Reply-To", "<n1@gateway.example>")], "Re: Printer broken", MailKind.NEW),
        ([("Auto-Submitted", "auto-replied")], "Re: [INC-000123] x", MailKind.AUTO_REPLY),
        ([], "Fwd: [INC-000123] Printer broken", MailKind.REPLY),
        ([("Precedence", "bulk")], "** PROBLEM Host Alert: db02 is DOWN **", MailKind.MONITORING),
    ],
)
def test_kind_precedence(headers: list[tuple[str, str]], subject: str, kind: MailKind) -> None:
    assert facts(parse(mail(headers, subject=subject))).kind is kind


def test_threading_headers_are_always_filled() -> None:
    raw = mail(
        [
            ("In-Reply-To", "<n3@gateway.example>"),
            ("References", "<n1@gateway.example> <n2@gateway.example>\r\n <n3@gateway.example>"),
        ],
        subject="Re: Printer broken",
    )

    mail_facts = facts(parse(raw))

    assert mail_facts.in_reply_to == ("n3@gateway.example",)
    assert mail_facts.references == (
        "n1@gateway.example",
        "n2@gateway.example",
        "n3@gateway.example",
    )


def test_references_are_bounded_keeping_the_root_and_the_latest() -> None:
    references = " ".join(f"<r{i}@x.example>" for i in range(500))

    mail_facts = facts(parse(mail([("References", references)]), {"max_references": 100}))

    assert len(mail_facts.references) == 100
    assert mail_facts.references[0] == "r0@x.example"
    assert mail_facts.references[1] == "r401@x.example"
    assert mail_facts.references[-1] == "r499@x.example"


def test_the_key_prefix_is_configurable() -> None:
    mail_facts = facts(parse(mail(subject="Re: [SR-000042] access"), {"key_prefix": "SR"}))

    assert (mail_facts.kind, mail_facts.incident_keys) == (MailKind.REPLY, ("SR-000042",))
