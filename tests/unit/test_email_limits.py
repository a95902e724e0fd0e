"""Bounded work: past a limit the parser stops, marks the facts truncated, and still answers.

The hostile messages are built here; timing is not asserted (the benchmarks
do that), but each of them took seconds or raised RecursionError before the
limits existed.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from core.errors import ParseError
from core.records import MailKind
from parsers.email import EmailParser
from parsers.mail.bounded import Limits, parse_bounded
from parsers.mail.parts import walk
from tests.unit.test_email_support import facts, mail, parse, record

HEAD = "From: a@corp.example\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"


def many_parts(count: int) -> bytes:
    head = HEAD.format(subject="many parts") + 'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
    parts = "".join(f"--B\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(count))
    return (head + parts + "--B--\r\n").encode()


def deeply_nested_multiparts(depth: int) -> bytes:
    lines = [HEAD.format(subject="deep") + 'Content-Type: multipart/mixed; boundary="b0"\r\n']
    for level in range(1, depth):
        lines.append(f'--b{level - 1}\r\nContent-Type: multipart/mixed; boundary="b{level}"\r\n')
    lines.append(f"--b{depth - 1}\r\nContent-Type: text/plain\r\n\r\nthe leaf\r\n")
    lines.extend(f"--b{level}--\r\n" for level in reversed(range(depth)))
    return "\r\n".join(lines).encode()


def deeply_nested_messages(depth: int) -> bytes:
    nested = "From: leaf@corp.example\r\nSubject: leaf\r\n\r\nthe leaf\r\n"
    for level in range(depth):
        nested = f"Subject: level {level}\r\nContent-Type: message/rfc822\r\n\r\n{nested}"
    return f"From: a@corp.example\r\n{nested}".encode()


def test_ten_thousand_parts_stop_at_max_parts() -> None:
    event = parse(many_parts(10_000))
    mail_facts = facts(event)

    assert mail_facts.truncated is True
    assert "limit:max_parts" in mail_facts.defects
    assert mail_facts.subject == "many parts"
    assert mail_facts.body.startswith("part 0\n\npart 1\n\n")
    assert mail_facts.body.count("part ") == 999  # the root is the thousandth part


@pytest.mark.parametrize("build", [deeply_nested_multiparts, deeply_nested_messages])
def test_a_thousand_levels_of_nesting_stop_at_max_depth(build: Callable[[int], bytes]) -> None:
    event = parse(build(1000))
    mail_facts = facts(event)

    assert mail_facts.truncated is True
    assert "limit:max_depth" in mail_facts.defects
    assert "the leaf" not in mail_facts.full_text


def test_nesting_within_the_limit_is_read_whole() -> None:
    mail_facts = facts(parse(deeply_nested_multiparts(15)))

    assert (mail_facts.truncated, mail_facts.body) == (False, "the leaf")


@pytest.mark.parametrize(
    "subject",
    [
        "x" * (1024 * 1024),
        "word " * (200 * 1024),  # a megabyte of words: policy.default takes seconds on it
        "\r\n ".join(["folded"] * (150 * 1024)),
        "=?utf-8?q?a?= " * (75 * 1024),
    ],
    ids=["one line", "words", "folded", "encoded words"],
)
def test_a_megabyte_header_is_cut_at_max_header_bytes(subject: str) -> None:
    event = parse(mail(subject=subject))
    mail_facts = facts(event)

    assert mail_facts.truncated is True
    assert "limit:max_header_bytes" in mail_facts.defects
    assert len(mail_facts.subject) <= 64 * 1024
    assert len(event.summary) <= 1024
    assert mail_facts.body == "Hello."


def test_a_megabyte_from_header_is_not_given_to_the_slow_parser() -> None:
    sender = '"' + "a b " * (256 * 1024) + '" <alice@corp.example>'

    mail_facts = facts(parse(mail(sender=sender)))

    assert mail_facts.truncated is True
    assert mail_facts.sender == ""  # cut in the middle of its quoted name: no clean address


def test_headers_past_max_headers_are_dropped() -> None:
    headers = [(f"X-Filler-{i}", "x") for i in range(5000)] + [("X-Priority", "1")]

    event = parse(mail(headers))

    assert facts(event).truncated is True
    assert "limit:max_headers" in facts(event).defects
    assert "original_severity" not in event.labels  # X-Priority came after the limit


def test_huge_mime_parameters_cost_no_quadratic_time() -> None:
    part = 'Content-Type: text/plain; name="' + ";" * 60_000 + '"\r\n\r\nx\r\n'
    body = "".join(f"--B\r\n{part}" for _ in range(50)) + "--B--\r\n"
    raw = mail([("Content-Type", 'multipart/mixed; boundary="B"')], body)

    mail_facts = facts(parse(raw))

    assert mail_facts.truncated is True
    assert len(mail_facts.attachments) == 50


def test_body_text_stops_at_max_text_bytes_without_a_broken_character() -> None:
    body = "服务器宕机。" * 100_000  # 1.8 MB of UTF-8, three bytes a character

    mail_facts = facts(parse(mail([("Content-Type", "text/plain; charset=utf-8")], body)))

    assert mail_facts.truncated is True
    assert "limit:max_text_bytes" in mail_facts.defects
    assert len(mail_facts.full_text.encode()) <= 1024 * 1024
    assert mail_facts.full_text.startswith("服务器宕机。")
    assert "\ufffd" not in mail_facts.full_text


def test_html_is_converted_only_up_to_max_html_bytes() -> None:
    html = "<p>First paragraph.</p>" + "<table><tr><td>a</td><td>b</td></tr></table>" * 20_000
    raw = mail([("Content-Type", "text/html; charset=utf-8")], html)

    mail_facts = facts(parse(raw, {"max_html_bytes": 64 * 1024}))

    assert mail_facts.truncated is True
    assert "limit:max_html_bytes" in mail_facts.defects
    assert mail_facts.body.startswith("First paragraph.\n\na  b")
    assert mail_facts.body.count("a  b") < 64 * 1024 // 44 + 1


def test_the_html_budget_is_shared_by_all_html_parts() -> None:
    part = "--m\r\nContent-Type: text/html\r\n\r\n<p>" + "x" * 40_000 + "</p>\r\n"
    plain = "--m\r\nContent-Type: text/plain\r\n\r\nplain text\r\n"
    raw = mail([("Content-Type", 'multipart/mixed; boundary="m"')], part * 2 + plain + "--m--\r\n")

    mail_facts = facts(parse(raw, {"max_html_bytes": 64 * 1024}))

    assert "limit:max_html_bytes" in mail_facts.defects
    assert 64 * 1024 - 20 < mail_facts.body.count("x") < 64 * 1024
    assert mail_facts.body.endswith("plain text")  # plain text has its own, larger budget


def test_text_parts_past_the_budget_are_not_decoded() -> None:
    raw = many_parts(20)

    mail_facts = facts(parse(raw, {"max_text_bytes": 1024}))
    assert mail_facts.truncated is False  # 20 short parts fit

    small = facts(parse(many_parts(400), {"max_text_bytes": 1024}))
    assert small.truncated is True
    assert small.body.count("part ") < 400


@pytest.mark.parametrize(
    ("options", "parts"),
    [({"max_parts": 5}, 5), ({"max_parts": 1}, 1), ({"max_parts": 50}, 21)],
)
def test_max_parts_counts_every_part_including_the_root(
    options: dict[str, int], parts: int
) -> None:
    bounded = parse_bounded(many_parts(20), Limits(options["max_parts"], 20, 100, 1024))

    assert sum(1 for _ in walk(bounded.root)) == parts


def test_an_empty_record_is_not_a_message() -> None:
    with pytest.raises(ParseError) as raised:
        EmailParser.from_options({}).parse(record(b""))

    assert raised.value.reason == "not_a_message"


@pytest.mark.parametrize(
    "raw",
    [
        b"\r\n",
        b"   ",
        b"\x00\x01\x02\xff" * 100,
        b"no headers at all, just text",
        b"Content-Type: multipart/mixed\r\n\r\n--\r\n--\r\n",
        b"Content-Type: multipart/mixed; boundary=\r\n\r\nx",
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!",
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n",
        b'Content-Type: text/plain; charset="\r\n\r\nx',
        b"Content-Type: message/rfc822\r\n\r\n",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n--r\r\n",
        bytes(random.Random(7).randrange(256) for _ in range(20_000)),
    ],
)
def test_garbage_never_raises(raw: bytes) -> None:
    event = parse(raw)

    assert facts(event).kind in set(MailKind)
    assert event.kind == "email"
