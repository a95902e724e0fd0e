"""Senders and recipients: never the wrong address (CVE-2023-27043 and friends)."""

from __future__ import annotations

import pytest

from parsers.mail.addresses import plain_address, strict_getaddresses
from tests.unit.test_email_support import facts, mail, parse


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("alice@corp.example", [("", "alice@corp.example")]),
        ("Alice <alice@corp.example>", [("Alice", "alice@corp.example")]),
        ('"Doe, Jane" <jane@corp.example>', [("Doe, Jane", "jane@corp.example")]),
        ("a@x.example, b@y.example", [("", "a@x.example"), ("", "b@y.example")]),
        # what the lenient parser got wrong: one comma-free value, two addresses
        ("alice@evil.example@corp.example", [("", "")]),
        ("alice@evil.example)<bob@corp.example>", [("", "")]),
        ("alice@evil.example (<bob@corp.example>", [("", "")]),
        ("<bob@[evil.example>", [("", "")]),
    ],
)
def test_strict_getaddresses(value: str, expected: list[tuple[str, str]]) -> None:
    assert strict_getaddresses(value) == expected


@pytest.mark.parametrize(
    ("address", "plain"),
    [
        ("Alice@Corp.Example", "alice@corp.example"),
        ('"a@b.example"@c.example', None),
        ("a@b@c.example", None),
        ("no-domain", None),
        ("a b@c.example", None),
        ("", None),
    ],
)
def test_plain_address(address: str, plain: str | None) -> None:
    assert plain_address(address) == plain


@pytest.mark.parametrize(
    ("from_value", "sender", "sender_name"),
    [
        ("Alice Example <Alice@Corp.Example>", "alice@corp.example", "Alice Example"),
        ("alice@corp.example (Alice)", "alice@corp.example", "Alice"),
        ("=?utf-8?B?5byg5Lyf?= <zhang.wei@corp.example>", "zhang.wei@corp.example", "张伟"),
        # the display name is an address: the real one is still the one in <>
        ('"alice@evil.example" <bob@corp.example>', "bob@corp.example", "alice@evil.example"),
        # policy.default cannot parse the leading dot: the plain shape is believed
        (".Support Team <support@vendor.example>", "support@vendor.example", ".Support Team"),
    ],
)
def test_the_sender_is_the_one_clean_address(
    from_value: str, sender: str, sender_name: str
) -> None:
    mail_facts = facts(parse(mail([("From", from_value)])))

    assert (mail_facts.sender, mail_facts.sender_name) == (sender, sender_name)


@pytest.mark.parametrize(
    "from_value",
    [
        "alice@evil.example@corp.example",
        '"a@b.example"@c.example',
        "alice@evil.example)<bob@corp.example>",
        "Alice <alice@corp.example>, Mallory <mallory@evil.example>",
        '"',  # policy.default raises IndexError on it
        "<@[ ",
        "b.ca:=?x?b?!!?=:x@y.example",  # the lenient parser reads x@y.example out of it
        "undisclosed-recipients:;",
        "",
    ],
)
def test_an_unclean_sender_is_no_sender_and_a_defect(from_value: str) -> None:
    event = parse(mail([("From", from_value)]))
    mail_facts = facts(event)

    assert (mail_facts.sender, mail_facts.sender_name, event.resource) == ("", "", "")
    assert "sender_unparseable" in mail_facts.defects


def test_a_missing_from_is_a_defect() -> None:
    raw = b"Subject: no sender\r\n\r\nbody\r\n"

    assert facts(parse(raw)).defects[:1] == ("sender_missing",)


def test_a_display_name_holding_another_address_is_noted() -> None:
    mail_facts = facts(parse(mail([("From", '"ceo@corp.example" <x@evil.example>')])))

    assert mail_facts.sender == "x@evil.example"
    assert "sender_name_is_address" in mail_facts.defects


def test_recipients_are_to_cc_and_the_envelope_once_each_in_lower_case() -> None:
    raw = mail(
        [
            ("To", "Helpdesk <Helpdesk@Corp.Example>, ops@corp.example"),
            ("Cc", "Boss <boss@corp.example>, undisclosed-recipients:;"),
        ]
    )

    mail_facts = facts(parse(raw, rcpt_to="<helpdesk@corp.example>,hidden@corp.example"))

    assert mail_facts.recipients == (
        "helpdesk@corp.example",
        "ops@corp.example",
        "boss@corp.example",
        "hidden@corp.example",
    )


def test_an_ambiguous_recipient_list_is_skipped_with_a_defect() -> None:
    mail_facts = facts(parse(mail([("To", "a@evil.example@corp.example")])))

    assert mail_facts.recipients == ()
    assert "recipients_unparseable:to" in mail_facts.defects
