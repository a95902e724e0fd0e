"""The gateway's MAIL/RCPT address parse answers exactly what aiosmtpd's own does."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aiosmtpd.smtp import SMTP

from gateway.intake.smtp_paths import parse_path, session_address

ARGUMENTS = [
    "",
    "<>",
    "<user@example.org>",
    "<user@example.org> SIZE=4096 BODY=8BITMIME",
    "user@example.org",
    "user@example.org SIZE=10",
    " <spaced@example.org>",
    "<@relay.example:user@example.org>",
    '<"quoted local"@example.org>',
    "<用户@例子.中国> SMTPUTF8",
    "<no-at-sign>",
    "<unterminated@example.org",
    "<<double@example.org>>",
    "<a@b@c>",
    "not an address at all",
    "<" + "l" * 70 + "@example.org>",
    "<(comment) user@example.org>",
]


@pytest.mark.parametrize("argument", ARGUMENTS)
@pytest.mark.parametrize("local_part_limit", [0, 64])
def test_same_answer_as_aiosmtpd(argument: str, local_part_limit: int) -> None:
    session = SimpleNamespace(local_part_limit=local_part_limit)
    try:
        expected: object = SMTP._getaddr(session, argument)  # type: ignore[arg-type]
    except Exception as exc:  # an error must be the same error
        with pytest.raises(type(exc)):
            session_address(argument, local_part_limit)
        return
    assert session_address(argument, local_part_limit) == expected


def test_repeated_arguments_are_parsed_once() -> None:
    parse_path.cache_clear()
    for _ in range(3):
        session_address("<helpdesk@example.org>", 64)
    info = parse_path.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_the_cache_is_bounded() -> None:
    parse_path.cache_clear()
    for number in range(5000):
        session_address(f"<sender{number}@example.org>", 64)
    assert parse_path.cache_info().currsize <= 4096
