"""Readable text: HTML to text, and the new text of a reply without history or signature."""

from __future__ import annotations

import pytest

from parsers.mail.text import html_to_text, normalized, strip_history
from tests.unit.test_email_support import facts, mail, parse

NEW = "The VPN still drops."

HISTORIES = {
    "angle quotes": f"{NEW}\n\n> Did the restart help?\n> Helpdesk",
    "on wrote": f"{NEW}\n\nOn Fri, Nov 20, 2026 at 9:00 AM Helpdesk <h@corp.example> wrote:\n> Hi",
    "on wrote wrapped": f"{NEW}\n\nOn Fri, Nov 20, 2026 at 9:00 AM Helpdesk <h@corp.example>\n"
    "wrote:\n\n> Hi",
    "apple on wrote": f"{NEW}\n\n> On 20 Nov 2026, at 09:00, Helpdesk <h@corp.example> wrote:\n>"
    "\n> Hi",
    "german": f"{NEW}\n\nAm 20.11.2026 um 09:00 schrieb Helpdesk <h@corp.example>:\n> Hallo",
    "outlook original message": f"{NEW}\n\n-----Original Message-----\nFrom: Helpdesk\n"
    "Sent: Friday\nTo: Karl\nSubject: x\n\nold",
    "outlook header block": f"{NEW}\n\nFrom: Helpdesk <h@corp.example>\nSent: Friday, November 20,"
    " 2026 9:00 AM\nTo: Karl\nSubject: x\n\nold",
    "outlook html header block": f"{NEW}\n\n*From:* Helpdesk <h@corp.example>\n*Sent:* Friday\n"
    "*To:* Karl\n\nold",
    "outlook underscore rule": f"{NEW}\n\n________________________________\nFrom: Helpdesk\n"
    "Date: Friday\n\nold",
    "chinese apple": f"{NEW}\n\n在 2026年11月20日，09:00，服务台 <h@corp.example> 写道：\n\n> 旧",
    "chinese gmail": f"{NEW}\n\n服务台 <h@corp.example> 于2026年11月20日周五 09:00写道：\n\n> 旧",
    "chinese original mail": f"{NEW}\n\n-----原始邮件-----\n发件人: 服务台\n"
    "发送时间: 2026年11月20日\n旧",
    "chinese header block": f"{NEW}\n\n发件人：服务台 <h@corp.example>\n"
    "发送时间：2026年11月20日 9:00\n收件人：我\n主题：旧",
    "qq": f"{NEW}\n\n------------------\u00a0原始邮件\u00a0------------------\n"
    '发件人: "服务台"<h@corp.example>;\n发送时间: 2026年11月20日(星期五) 上午9:00\n\n旧',
    "signature": f"{NEW}\n\n-- \nKarl Weber\nFinance",
    "signature without space": f"{NEW}\n--\nKarl Weber",
    "iphone": f"{NEW}\n\nSent from my iPhone",
    "outlook mobile": f"{NEW}\n\nGet Outlook for Android",
    "chinese iphone": f"{NEW}\n\n发自我的iPhone",
    "chinese iphone with space": f"{NEW}\n\n发自我的 iPhone\n\n> 旧",
    "huawei": f"{NEW}\n\n发自我的华为手机",
}


@pytest.mark.parametrize("text", HISTORIES.values(), ids=HISTORIES.keys())
def test_history_and_signatures_are_stripped(text: str) -> None:
    assert strip_history(text) == NEW


@pytest.mark.parametrize(
    "text",
    [
        "On Monday the printer broke again.\nPlease help.",
        "From: the finance team we need access.\nThanks",
        "报告中写道：\n服务器无法启动。",  # prose, not an attribution line: no date in it
        "Absence of backups on db01.",
        "a -- b\nc",
        "",
    ],
)
def test_ordinary_text_is_kept(text: str) -> None:
    assert strip_history(text) == text


def test_answers_written_between_quotes_are_kept() -> None:
    text = (
        "On Fri, Nov 20, 2026 at 9:00 AM Helpdesk <h@corp.example> wrote:\n"
        "> Which floor?\nThird floor.\n> Which printer?\nThe one by the window."
    )

    assert strip_history(text) == "Third floor.\nThe one by the window."


def test_html_becomes_the_text_a_reader_sees() -> None:
    html = (
        "<html><head><style>p{color:red}</style><script>var x;</script></head><body>"
        "<p>Hello&nbsp;<b>team</b>,</p><ul><li>one</li><li>two</li></ul>"
        '<p>see <a href="https://intranet.example/kb/1">the article</a></p></body></html>'
    )

    assert normalized(html_to_text(html)) == "Hello team,\n\n  * one\n  * two\n\nsee the article"


@pytest.mark.parametrize("html", ["", "   ", "<!-- only a comment -->", "<p>", "</div></div>"])
def test_empty_or_broken_html_is_empty_text(html: str) -> None:
    assert normalized(html_to_text(html)) == ""


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("a\r\nb\rc", "a\nb\nc"),
        ("\ufeffa", "a"),
        ("a  \nb\t", "a\nb"),
        ("a\n\n\n\n\nb", "a\n\nb"),
        ("a\x00b\x07c", "abc"),
        ("\n\na\n\n", "a"),
    ],
)
def test_normalized(text: str, clean: str) -> None:
    assert normalized(text) == clean


def test_multipart_alternative_falls_back_to_html_when_plain_is_empty() -> None:
    body = (
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\r\n"
        "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Only in <i>HTML</i></p>\r\n"
        "--b--\r\n"
    )
    raw = mail([("Content-Type", 'multipart/alternative; boundary="b"')], body)

    assert facts(parse(raw)).body == "Only in HTML"


def test_html_without_a_declared_charset_uses_its_meta_tag() -> None:
    html = '<html><head><meta charset="gbk"></head><body><p>打印机故障</p></body></html>'
    raw = mail([("Content-Type", "text/html")], html.encode("gbk"))

    event = parse(raw)

    assert facts(event).body == "打印机故障"
    assert event.labels["charset"] == "gb18030"


def test_text_parts_of_a_mixed_message_are_joined_in_order() -> None:
    body = (
        "--m\r\nContent-Type: text/plain\r\n\r\nFirst part.\r\n"
        "--m\r\nContent-Type: image/png\r\nContent-Disposition: inline\r\n\r\nPNG\r\n"
        "--m\r\nContent-Type: text/plain\r\n\r\nSecond part.\r\n"
        '--m\r\nContent-Type: text/plain; name="log.txt"\r\n\r\nnot the body\r\n'
        "--m--\r\n"
    )
    raw = mail([("Content-Type", 'multipart/mixed; boundary="m"')], body)

    mail_facts = facts(parse(raw))

    assert mail_facts.body == "First part.\n\nSecond part."
    assert [a.filename or a.content_type for a in mail_facts.attachments] == [
        "image/png",
        "log.txt",
    ]
