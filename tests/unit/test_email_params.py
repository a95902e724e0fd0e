"""Content-Type and Content-Disposition parameters: RFC 2045 quoting, RFC 2231 sections."""

from __future__ import annotations

import pytest

from parsers.mail.charsets import CharsetDecoder
from parsers.mail.defects import Defects
from parsers.mail.params import MimeHeader, canonical_content_type, parse_mime_header
from tests.unit.test_email_support import facts, mail, parse


@pytest.mark.parametrize(
    ("raw", "value", "params"),
    [
        ("text/plain", "text/plain", {}),
        ("Text/HTML; Charset=UTF-8", "text/html", {"charset": "UTF-8"}),
        ('text/plain; charset="gbk"', "text/plain", {"charset": "gbk"}),
        (
            'text/plain;\r\n\tcharset = "gbk" ;format=flowed',
            "text/plain",
            {"charset": "gbk", "format": "flowed"},
        ),
        ('attachment; filename="a;b \\"c\\".pdf"', "attachment", {"filename": 'a;b "c".pdf'}),
        ('attachment; filename="unterminated', "attachment", {"filename": "unterminated"}),
        ("inline; ; ;; =broken; x", "inline", {"x": ""}),
        (
            'multipart/mixed; boundary="----=_Part_1"',
            "multipart/mixed",
            {"boundary": "----=_Part_1"},
        ),
        ("text/plain; charset=a; charset=b", "text/plain", {"charset": "a"}),  # first wins
    ],
)
def test_values_and_parameters(raw: str, value: str, params: dict[str, str]) -> None:
    header = parse_mime_header(raw)

    assert header.value == value
    assert {name: found.text for name, found in header.params.items()} == params


@pytest.mark.parametrize(
    ("raw", "filename"),
    [
        ("attachment; filename*=utf-8''%E6%8A%A5%E9%94%99.pdf", "报错.pdf"),
        ("attachment; filename*=UTF-8'zh-cn'%E6%8A%A5%E9%94%99.pdf", "报错.pdf"),
        ("attachment; filename*=gb2312''%86%B4.txt", "喆.txt"),  # GBK under a gb2312 label
        (
            "attachment; filename*0*=utf-8''%E6%8A%A5; filename*1*=%E9%94%99; filename*2=.pdf",
            "报错.pdf",
        ),
        ("attachment; filename*1=b.txt; filename*0=a", "ab.txt"),  # sections in any order
        ("attachment; filename=\"plain.pdf\"; filename*=utf-8''%E6%8A%A5.pdf", "报.pdf"),
        # both forms of one name: decode_params raised TypeError on this
        ("attachment; filename*=utf-8''x.pdf; filename*0*=utf-8''y.pdf", "x.pdf"),
        ('attachment; filename="=?gb2312?B?1KTL4y5jc3Y=?="', "预算.csv"),
        ("attachment; filename*=''%E6%8A%A5.pdf", "报.pdf"),  # no charset: detected
    ],
)
def test_filenames_in_every_encoding_mailers_use(raw: str, filename: str) -> None:
    header = parse_mime_header(raw)

    assert header.text("filename", CharsetDecoder(), Defects()) == filename


def test_a_missing_parameter_is_none() -> None:
    assert MimeHeader("attachment").text("filename", CharsetDecoder(), Defects()) is None


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ('multipart/mixed; boundary="b1"; charset=x', 'multipart/mixed; boundary="b1"'),
        ("multipart/mixed; boundary=b1", 'multipart/mixed; boundary="b1"'),
        ('multipart/mixed; boundary="a\\"b"', 'multipart/mixed; boundary="a\\"b"'),
        ('text/plain; charset="gbk"; name="x.txt"', "text/plain"),
        ("multipart/mixed", "multipart/mixed"),
    ],
)
def test_the_stdlib_sees_only_type_and_boundary(raw: str, canonical: str) -> None:
    assert canonical_content_type(parse_mime_header(raw)) == canonical


def test_an_rfc2231_boundary_still_splits_the_message() -> None:
    body = "--b1\r\nContent-Type: text/plain\r\n\r\nInside.\r\n--b1--\r\n"
    raw = mail([("Content-Type", "multipart/mixed; boundary*=us-ascii''b1")], body)

    assert facts(parse(raw)).body == "Inside."
