"""De-duplication keys of mail, read from raw headers (gateway.intake.mailkeys)."""

from __future__ import annotations

import hashlib

import pytest

from gateway.intake.mailkeys import (
    HEADER_SCAN_BYTES,
    MESSAGE_ID,
    RETURN_PATH,
    imap_key,
    mail_dedup_key,
    normalise_address,
    normalise_message_id,
    read_headers,
)


def _key(message_id: str, sender: str) -> str:
    return "mail:" + hashlib.sha256(f"{message_id}|{sender}".encode()).hexdigest()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"Message-ID: <a@b>\r\n\r\nbody", {MESSAGE_ID: "<a@b>"}),
        (b"message-id:<a@b>\n\nbody", {MESSAGE_ID: "<a@b>"}),
        (b"Message-ID:\r\n <folded@b>\r\n\r\n", {MESSAGE_ID: "<folded@b>"}),
        (b"From x@y  Mon Jan 1\nMessage-Id: <a@b>\n\n", {MESSAGE_ID: "<a@b>"}),
        (b"Message-ID: <first@b>\nMessage-ID: <second@b>\n\n", {MESSAGE_ID: "<first@b>"}),
        (b"Subject: x\r\n\r\nMessage-ID: <in-body@b>\r\n", {}),
        (b"Return-Path: <Bounce@X.org>\nMessage-ID: <a@b>\n\n", {RETURN_PATH: "<Bounce@X.org>"}),
        (b"", {}),
    ],
)
def test_read_headers_takes_the_first_value_from_the_header_block(
    raw: bytes, expected: dict[bytes, str]
) -> None:
    wanted = tuple(expected) or (MESSAGE_ID,)
    assert read_headers(raw, wanted) == expected


def test_read_headers_stops_at_the_scan_limit() -> None:
    padding = b"X-Pad: " + b"p" * HEADER_SCAN_BYTES + b"\r\n"
    assert read_headers(padding + b"Message-ID: <late@b>\r\n\r\n", (MESSAGE_ID,)) == {}


def test_non_utf8_header_bytes_are_kept_exactly() -> None:
    raw = b"Message-ID: <\xff\xfe@b>\r\n\r\n"
    assert read_headers(raw, (MESSAGE_ID,))[MESSAGE_ID].encode("utf-8", "surrogateescape") == (
        b"<\xff\xfe@b>"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a@b>", "a@b"),
        ("  <a@b>  (comment)", "a@b"),
        ("a@b", "a@b"),
        (" a @ b ", "a@b"),
        ("", ""),
    ],
)
def test_normalise_message_id(value: str, expected: str) -> None:
    assert normalise_message_id(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Alice@Example.ORG", "alice@example.org"),
        ("<Alice@Example.org>", "alice@example.org"),
        ("<alice@example.org> (via relay)", "alice@example.org"),
        ("<>", ""),
        ("", ""),
    ],
)
def test_normalise_address(value: str, expected: str) -> None:
    assert normalise_address(value) == expected


def test_key_is_message_id_and_sender() -> None:
    raw = b"Message-ID: <abc@client.example>\r\n\r\nhello\r\n"
    assert mail_dedup_key(raw, "Alice@Client.example") == _key(
        "abc@client.example", "alice@client.example"
    )


def test_same_message_id_from_another_sender_is_another_mail() -> None:
    raw = b"Message-ID: <abc@client.example>\r\n\r\nhello\r\n"
    assert mail_dedup_key(raw, "alice@client.example") != mail_dedup_key(raw, "eve@x.example")


def test_smtp_and_imap_copies_of_one_mail_share_the_key() -> None:
    sent = b"Message-ID: <abc@client.example>\r\nSubject: s\r\n\r\nbody\r\n"
    delivered = b"Return-Path: <alice@client.example>\r\nReceived: from mx\r\n" + sent
    sender = normalise_address(read_headers(delivered, (RETURN_PATH,))[RETURN_PATH])
    assert mail_dedup_key(delivered, sender) == mail_dedup_key(sent, "<alice@client.example>")


def test_without_message_id_the_key_is_the_content_hash() -> None:
    raw = b"Subject: no id\r\n\r\nbody\r\n"
    assert mail_dedup_key(raw, "a@b") == "mail-content:" + hashlib.sha256(raw).hexdigest()
    assert mail_dedup_key(raw, "other@b") == mail_dedup_key(raw, "a@b")
    assert mail_dedup_key(b"Message-ID: <>\r\n\r\n", "a@b").startswith("mail-content:")


def test_keys_fit_the_dedup_column() -> None:
    long_id = "<" + "x" * 5000 + "@b>"
    assert len(mail_dedup_key(f"Message-ID: {long_id}\r\n\r\n".encode(), "a@b")) <= 255


def test_imap_key_names_account_folder_uidvalidity_and_uid() -> None:
    assert imap_key("helpdesk", "INBOX", 1700000000, 42) == "imap:helpdesk:INBOX:1700000000:42"
