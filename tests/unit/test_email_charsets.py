"""Charsets that never give up, and RFC 2047 encoded words in headers."""

from __future__ import annotations

import base64

import pytest

from parsers.mail.charsets import CharsetDecoder, codecs_for
from parsers.mail.defects import Defects
from parsers.mail.headers import decode_words, lenient_base64, message_ids


def _b(text: str, codec: str, label: str) -> str:
    return f"=?{label}?B?{base64.b64encode(text.encode(codec)).decode()}?="


@pytest.mark.parametrize(
    ("label", "codecs"),
    [
        ("GB2312", ("gb18030",)),
        ("gbk", ("gb18030",)),
        ("gb_2312-80", ("gb18030",)),
        ("x-gbk", ("gb18030",)),
        ('"cp936"', ("gb18030",)),
        ("Big5", ("big5hkscs", "cp950")),
        ("big5-hkscs", ("big5hkscs", "cp950")),
        ("ISO-2022-JP", ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2")),
        ("Shift_JIS", ("cp932",)),
        ("ks_c_5601-1987", ("cp949",)),
        ("ISO-8859-1", ("cp1252", "latin-1")),
        ("UTF-8", ("utf-8",)),
        ("koi8-r", ("koi8-r",)),
        ("us-ascii", ()),
        ("unknown-8bit", ()),
        ("", ()),
        ("no-such-charset", None),
        # Python codecs that are no charsets: they raise, or rewrite instead of decoding
        ("undefined", None),
        ("base64", None),
        ("zlib", None),
        ("rot13", None),
        ("unicode-escape", None),
        ("idna", None),
        # labels the codec registry itself chokes on
        ("utf\x00-8", None),
        ("gb\udcd5k", None),
        ("x" * 100, None),
        ("utf-7", ("utf-7",)),
    ],
)
def test_declared_labels_map_to_the_codecs_mailers_really_use(
    label: str, codecs: tuple[str, ...] | None
) -> None:
    assert codecs_for(label) == codecs


@pytest.mark.parametrize(
    ("data", "declared", "text", "charset", "defect"),
    [
        ("服务器".encode("gb2312"), "gb2312", "服务器", "gb18030", ""),
        ("王喆".encode("gbk"), "gb2312", "王喆", "gb18030", ""),
        ("𠮷野家".encode("gb18030"), "gbk", "𠮷野家", "gb18030", ""),
        ("有啲急".encode("big5hkscs"), "big5", "有啲急", "big5hkscs", ""),
        ("サーバー".encode("iso2022_jp"), "iso-2022-jp", "サーバー", "iso2022_jp", ""),
        ("Grüße".encode("latin-1"), "iso-8859-1", "Grüße", "cp1252", ""),
        ("Grüße".encode(), "iso-8859-1", "Grüße", "utf-8", "charset_mismatch:iso-8859-1"),
        ("服务器".encode(), None, "服务器", "utf-8", ""),
        (b"plain", None, "plain", "ascii", ""),
        ("サーバー".encode("iso2022_jp"), None, "サーバー", "iso2022_jp_2", ""),
        ("服务器".encode(), "no-such", "服务器", "utf-8", "charset_unknown:no-such"),
        (b"\xff\xfe\xfd", "utf-8", "\ufffd\ufffd\ufffd", "utf-8", "undecodable_bytes"),
    ],
)
def test_decoding_prefers_the_declared_superset_then_falls_back(
    data: bytes, declared: str | None, text: str, charset: str, defect: str
) -> None:
    decoded = CharsetDecoder(max_detections=0).decode(data, declared)

    assert (decoded.text, decoded.charset, decoded.defect) == (text, charset, defect)


def test_a_wrong_label_is_overruled_by_detection() -> None:
    data = "您好，邮件服务器从今天上午开始无法发送邮件，请尽快处理。谢谢！".encode("gbk")

    decoded = CharsetDecoder().decode(data, "utf-8")

    assert decoded.text == "您好，邮件服务器从今天上午开始无法发送邮件，请尽快处理。谢谢！"
    assert (decoded.charset, decoded.defect) == ("gb18030", "charset_mismatch:utf-8")


def test_what_worked_once_in_a_message_is_tried_first_for_undeclared_bytes() -> None:
    decoder = CharsetDecoder(max_detections=0)
    decoder.add_hint("big5")

    decoded = decoder.decode("印表機".encode("big5"))

    assert (decoded.text, decoded.charset) == ("印表機", "big5hkscs")


def test_text_cut_at_a_limit_loses_only_its_unfinished_character() -> None:
    data = "服务器".encode()[:-1]

    decoded = CharsetDecoder().decode(data, "utf-8", complete=False)

    assert (decoded.text, decoded.defect) == ("服务", "")


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        # one word per charset, the whitespace between words dropped (RFC 2047 6.2)
        (f"{_b('服务器', 'gb2312', 'gb2312')} {_b('宕机', 'utf-8', 'utf-8')}", "服务器宕机"),
        # a word labelled gb2312 that holds GBK
        (_b("王喆", "gbk", "gb2312"), "王喆"),
        # labels with a language (RFC 2231) and odd case
        ("=?UTF-8*zh?b?5pyN5Yqh5Zmo?=", "服务器"),
        # Q encoding, underscores for spaces
        ("=?utf-8?q?Disk_full_=E2=80=94_S:?=", "Disk full — S:"),
        # text around words, and folding
        ("Re: =?utf-8?B?5pyN5Yqh5Zmo?=\r\n =?utf-8?B?5a6V5py6?= now", "Re: 服务器宕机 now"),
        # base64 without padding, with a stray character
        ("=?utf-8?B?5pyN5Yqh5Zm*o?=", "服务器"),
        # raw 8-bit UTF-8 in the header (surrogate-escaped by the parser)
        ("申请权限".encode().decode("ascii", "surrogateescape"), "申请权限"),
        # not an encoded word at all
        ("=?broken", "=?broken"),
    ],
)
def test_encoded_words_decode(raw: str, text: str) -> None:
    assert decode_words(raw, CharsetDecoder(max_detections=0), Defects()) == text


def test_a_character_split_between_two_words_is_joined_before_decoding() -> None:
    data = "镕钢".encode("gbk")  # 镕 is E9 46: its trail byte is ASCII "F"
    first, second = base64.b64encode(data[:1]).decode(), base64.b64encode(data[1:]).decode()
    raw = f"=?gb2312?B?{first}?=\r\n =?gb2312?B?{second}?="

    assert decode_words(raw, CharsetDecoder(), Defects()) == "镕钢"


def test_raw_8bit_headers_take_the_message_charset() -> None:
    decoder = CharsetDecoder(max_detections=0)
    decoder.add_hint("gbk")
    raw = "VPN 连接失败".encode("gbk").decode("ascii", "surrogateescape")

    assert decode_words(raw, decoder, Defects()) == "VPN 连接失败"


def test_an_unknown_word_charset_is_a_defect() -> None:
    defects = Defects()

    text = decode_words("=?x-klingon?Q?abc?=", CharsetDecoder(), defects)

    assert text == "abc"
    assert defects.as_tuple() == ("header_charset_unknown:x-klingon",)


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("5pyN5Yqh5Zmo", "服务器".encode()),
        ("5pyN5Yqh5Zm", "服务".encode() + b"\xe5\x99"),
        ("", b""),
    ],
)
def test_lenient_base64(text: str, data: bytes) -> None:
    assert lenient_base64(text) == data


@pytest.mark.parametrize(
    ("raw", "limit", "ids"),
    [
        ("<a@b>", 100, ("a@b",)),
        ("  < a@b >  ", 100, ("a@b",)),
        ("a@b", 100, ("a@b",)),
        ("<a@b> <c@d>\r\n <a@b>", 100, ("a@b", "c@d")),
        ("<a@b>,<c@d>", 100, ("a@b", "c@d")),
        ("<no-at-sign>", 100, ("no-at-sign",)),
        ("(comment) <A@B>", 100, ("A@B",)),  # case is kept
        ("<1@x> <2@x> <3@x> <4@x>", 3, ("1@x", "3@x", "4@x")),  # root and the latest
        ("", 100, ()),
        ("garbage", 100, ()),
    ],
)
def test_message_id_lists(raw: str, limit: int, ids: tuple[str, ...]) -> None:
    assert message_ids(raw, limit) == ids
