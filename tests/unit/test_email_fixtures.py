"""The .eml fixtures end to end: decoded subjects, senders and bodies, exactly."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.records import Attachment, EventStatus, MailKind, Severity
from tests.unit.test_email_support import RECEIVED_AT, facts, fixture, parse


@dataclass(frozen=True)
class Expected:
    fixture: str
    subject: str
    sender: str
    sender_name: str
    body: str
    charset: str
    kind: MailKind = MailKind.NEW


READABLE = [
    Expected(
        "gb2312_encoded_words",
        "打印机无法打印",
        "zhang.wei@corp.example",
        "张伟",
        "您好，三楼的打印机无法打印，请尽快处理。\n谢谢！",
        "gb18030",
    ),
    Expected(
        "gbk_declared_gb2312",
        "王喆：邮箱无法登录（镕）",
        "wang.zhe@corp.example",
        "王喆",
        "我是财务部王喆，邮箱从早上开始无法登录。\n同事李镕也一样。",
        "gb18030",
    ),
    Expected(
        "gbk_raw_headers",
        "VPN 连接失败",
        "li.na@corp.example",
        "李娜",
        "您好，VPN 客户端连接后马上断开，错误代码 809。",
        "gb18030",
    ),
    Expected(
        "gb18030_four_byte",
        "发票抬头“𠮷”字乱码",
        "chen.jing@corp.example",
        "陈静",
        "客户名称：𠮷野家（上海）\n发票系统无法打印带“𠮷”字的抬头。",
        "gb18030",
    ),
    Expected(
        "big5_encoded_words",
        "印表機無法列印",
        "chan.taiman@corp.example",
        "陳大文",
        "您好，印表機無法列印，請協助處理。\n有啲急，謝謝！",
        "big5hkscs",
    ),
    Expected(
        "big5_raw_headers",
        "網路磁碟機無法連線",
        "lin.chiming@corp.example",
        "林志明",
        "網路磁碟機無法連線。",
        "big5hkscs",
    ),
    Expected(
        "utf8_encoded_words",
        "会议室投影仪没有信号",
        "zhao.lei@corp.example",
        "赵磊",
        "您好，会议室投影仪没有信号。",
        "utf-8",
    ),
    Expected(
        "utf8_raw_headers",
        "申请共享文件夹权限",
        "sun.yue@corp.example",
        "孙悦",
        "共享文件夹权限申请：财务部/2026年报。",
        "utf-8",
    ),
    Expected(
        "iso2022jp",
        "サーバー停止のお知らせ",
        "yamada@corp.example",
        "山田太郎",
        "サーバーが停止しました。至急対応をお願いします。",
        "iso2022_jp",
    ),
    Expected(
        "wrong_charset_utf8_label",
        "Mail server problem",
        "zhou.min@corp.example",
        "Zhou Min",
        "您好，邮件服务器从今天上午开始无法发送邮件，所有发出的邮件都停留在发件箱里。"
        "请尽快处理。谢谢！",
        "gb18030",
    ),
    Expected(
        "wrong_charset_latin1_label",
        "Drucker druckt leere Seiten",
        "j.mueller@corp.example",
        "Juergen Mueller",
        "Der Drucker im Büro druckt nur leere Seiten. Grüße, Jürgen",
        "utf-8",
    ),
    Expected(
        "latin1_german",
        "Drucker defekt",
        "p.schulz@corp.example",
        "Petra Schulz",
        "Sehr geehrte Damen und Herren, der Drucker im Büro funktioniert nicht. Grüße",
        "cp1252",
    ),
    Expected(
        "no_charset",
        "Password reset",
        "wu.fang@corp.example",
        "Wu Fang",
        "您好，财务系统登录时提示密码错误，但密码是今天早上刚刚修改的。请帮忙重置一下密码，谢谢！",
        "gb18030",
    ),
    Expected(
        "html_only",
        "VPN drops",
        "maria.rossi@corp.example",
        "Maria Rossi",
        "Hello,\n\nthe VPN drops every five minutes.\n\n"
        "Client  6.2.1\nOS      Windows 11\n\nThanks,\nMaria",
        "utf-8",
    ),
    Expected(
        "alternative",
        "Share S: full",
        "tom.baker@corp.example",
        "Tom Baker",
        "Plain: the share S: is full.",
        "utf-8",
    ),
    Expected(
        "reply_key_outlook",
        "RE: [INC-000123] Printer broken",
        "karl.weber@corp.example",
        "Karl Weber",
        "The printer still shows error 50.2 after the restart.\n\nRegards,\nKarl",
        "utf-8",
        MailKind.REPLY,
    ),
    Expected(
        "reply_in_reply_to_apple",
        "Re: Printer broken",
        "lisa.wong@corp.example",
        "Lisa Wong",
        "Yes, it works again. Thanks!",
        "utf-8",
    ),
    Expected(
        "reply_outlook_header_block",
        "RE: [INC-000125] Excel crashes",
        "mark.davis@corp.example",
        "Mark Davis",
        "Hi, the issue is back since this morning.\n\nMark",
        "utf-8",
        MailKind.REPLY,
    ),
    Expected(
        "reply_qq",
        "回复：[INC-000126] 无法访问内网",
        "zhou.jie@qq.example",
        "周杰",
        "问题已经解决了，谢谢！",
        "gb18030",
        MailKind.REPLY,
    ),
    Expected(
        "reply_apple_chinese",
        "Re: [INC-000127] 笔记本电脑无法开机",
        "wu.min@corp.example",
        "吴敏",
        "好的，我下午三点在办公室。",
        "utf-8",
        MailKind.REPLY,
    ),
]


@pytest.mark.parametrize("expected", READABLE, ids=lambda e: e.fixture)
def test_fixture_reads_as_written(expected: Expected) -> None:
    event = parse(fixture(expected.fixture))
    mail = facts(event)

    assert mail.kind is expected.kind
    assert mail.subject == expected.subject
    assert event.summary == expected.subject
    assert (mail.sender, mail.sender_name) == (expected.sender, expected.sender_name)
    assert event.resource == expected.sender
    assert mail.body == expected.body
    assert event.description == expected.body
    assert event.labels["charset"] == expected.charset
    assert event.labels["mail_kind"] == expected.kind.value
    assert mail.truncated is False


@pytest.mark.parametrize(
    ("name", "defect"),
    [
        ("wrong_charset_utf8_label", "body_charset_mismatch:utf-8"),
        ("wrong_charset_latin1_label", "body_charset_mismatch:iso-8859-1"),
    ],
)
def test_a_wrong_declared_charset_is_noted(name: str, defect: str) -> None:
    assert defect in facts(parse(fixture(name))).defects


@pytest.mark.parametrize(
    "name", ["gb2312_encoded_words", "gbk_declared_gb2312", "big5_encoded_words", "iso2022jp"]
)
def test_declared_charsets_read_as_their_supersets_need_no_defect(name: str) -> None:
    assert facts(parse(fixture(name))).defects == ()


def test_every_fixture_is_dated_and_identified() -> None:
    event = parse(fixture("gb2312_encoded_words"))

    assert event.occurred_at == RECEIVED_AT.replace(second=0)
    assert facts(event).message_id == "gb2312-1@corp.example"
    assert facts(event).recipients == ("helpdesk@corp.example",)
    assert (event.kind, event.source, event.status) == ("email", "helpdesk", EventStatus.FIRING)
    assert event.severity is Severity.MEDIUM


def test_reply_history_stays_in_full_text() -> None:
    mail = facts(parse(fixture("reply_qq")))

    assert mail.full_text.startswith("问题已经解决了，谢谢！\n\n------------------\u00a0原始邮件")
    assert mail.full_text.endswith("请清除浏览器缓存后再试。")
    assert mail.incident_keys == ("INC-000126",)


@pytest.mark.parametrize(
    ("name", "event_name", "body_start", "body_end"),
    [
        (
            "forward_english",
            "Backup job failed",
            "FYI, this came in overnight.\n\n---------- Forwarded message ---------",
            "Backup job nightly-db failed: disk quota exceeded on /backup.",
        ),
        (
            "forward_chinese",
            "数据库备份失败",
            "请处理一下，谢谢。\n\n------------------ 原始邮件 ------------------",
            "数据库备份任务失败：磁盘空间不足。",
        ),
    ],
)
def test_a_forward_is_new_keeps_the_forwarded_text_and_loses_its_prefix(
    name: str, event_name: str, body_start: str, body_end: str
) -> None:
    event = parse(fixture(name))
    mail = facts(event)

    assert mail.kind is MailKind.NEW
    assert event.name == event_name
    assert mail.body.startswith(body_start)
    assert mail.body.endswith(body_end)


def test_attachments_are_described_not_kept() -> None:
    mail = facts(parse(fixture("attachments")))

    assert mail.body == "Screenshot of the error:"
    assert mail.attachments == (
        Attachment(
            filename="shot.png",
            content_type="image/png",
            size=66,
            sha256="62d7693d527ce6e5cf4a4f54478b889fe3e01a144d09a0a0482ca512d4225b3a",
            inline=True,
            content_id="shot1@corp.example",
        ),
        Attachment(
            filename="报错截图.pdf",  # RFC 2231, two continuation sections
            content_type="application/pdf",
            size=77,
            sha256="56c2ac043c28d3543275a6f50b593a6beb0b6888ed8159ac02e3e7f4a32ccb26",
        ),
        Attachment(
            filename="预算喆.csv",  # RFC 2047 word labelled gb2312, GBK inside
            content_type="text/csv",
            size=23,
            sha256="a4c4a5faa929714bdea76ae19ece8ce4959dad8be737ed92de7499ef44080cd4",
        ),
    )


def test_a_calendar_invite_is_an_attachment_beside_the_plain_text() -> None:
    mail = facts(parse(fixture("calendar_invite")))

    assert mail.body == "Core switch upgrade, Saturday 02:00 UTC."
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("", "text/calendar"),
        ("invite.ics", "application/ics"),
    ]
    assert mail.attachments[0].sha256 == mail.attachments[1].sha256


@pytest.mark.parametrize(
    ("name", "reason", "keys"),
    [
        ("ooo_english", "auto_submitted", ("INC-000123",)),
        ("ooo_chinese", "out_of_office", ()),
    ],
)
def test_out_of_office_is_an_auto_reply_even_with_an_incident_key(
    name: str, reason: str, keys: tuple[str, ...]
) -> None:
    event = parse(fixture(name))
    mail = facts(event)

    assert mail.kind is MailKind.AUTO_REPLY
    assert mail.auto_submitted is True
    assert mail.incident_keys == keys
    assert event.labels["auto_reason"] == reason


def test_ooo_chinese_body_is_decoded() -> None:
    mail = facts(parse(fixture("ooo_chinese")))

    assert mail.subject == "自动回复: 打印机故障"
    assert mail.body == "您好，我正在休假，11月30日返回。紧急事务请联系王经理。"


@pytest.mark.parametrize(
    ("name", "reason", "attachment_types"),
    [
        ("dsn_bounce", "dsn", ["message/rfc822"]),
        ("dsn_headers_only", "dsn", []),
        ("bounce_nonstandard", "daemon_subject", []),
    ],
)
def test_bounces_name_the_message_that_bounced(
    name: str, reason: str, attachment_types: list[str]
) -> None:
    event = parse(fixture(name))
    mail = facts(event)

    assert mail.kind is MailKind.BOUNCE
    assert mail.auto_submitted is True
    assert event.labels["auto_reason"] == reason
    assert mail.bounced_message_ids == ("inc-000124.notice@gateway.corp.example",)
    assert [a.content_type for a in mail.attachments] == attachment_types


def test_a_dsn_body_is_its_human_readable_part() -> None:
    mail = facts(parse(fixture("dsn_bounce")))

    assert mail.body.startswith("This is the mail system at host mx.corp.example.")
    assert mail.body.endswith("550 5.1.1 User unknown")
    assert "Reporting-MTA" not in mail.full_text


def test_the_nonstandard_bounce_is_read_in_chinese() -> None:
    mail = facts(parse(fixture("bounce_nonstandard")))

    assert mail.subject == "系统退信"
    assert mail.body.startswith("很抱歉，您发送的邮件无法送达以下收件人：\nnobody@gone.example")


def test_malformed_headers_cost_defects_not_the_event() -> None:
    event = parse(fixture("malformed_headers"))
    mail = facts(event)

    assert mail.subject == "服务器abc"
    assert mail.sender == "support@vendor.example"  # policy.default failed; plain shape read
    assert mail.sender_name == ".Support Team"
    assert mail.message_id == "missing-brackets@corp.example"
    assert mail.body == "This line has no colon: the body starts here\n\nThe body survives. 服务"
    assert event.occurred_at == RECEIVED_AT
    assert set(mail.defects) >= {
        "header_unparseable:from",
        "header_charset_unknown:x-unknown-charset",
        "body_charset_unknown:no-such-charset",
        "date_invalid",
        "missing_header_body_separator",
        "first_header_line_is_continuation",
    }


def test_a_broken_boundary_keeps_the_text() -> None:
    mail = facts(parse(fixture("broken_boundary")))

    assert "Disk full on fileserver." in mail.body
    assert "start_boundary_not_found" in mail.defects
    assert mail.attachments == ()
