"""The charset diagnosis of explain: per body part, declared against what the bytes are,
with the codec the parser itself read them with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.records import Channel, IntakeRecord
from parsers.email import EmailParser
from parsers.mail.diagnosis import diagnose
from parsers.mail.options import EmailOptions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def _record(name: str) -> IntakeRecord:
    raw = (FIXTURES / f"{name}.eml").read_bytes()
    return IntakeRecord(1, Channel.SMTP, "helpdesk", "email", datetime(2026, 1, 1, tzinfo=UTC), raw)


@pytest.mark.parametrize(
    ("fixture", "declared", "fits", "needs", "decoded_as", "verdict"),
    [
        ("gbk_declared_gb2312", "gb2312", False, "gbk", "gb18030",
         "declares gb2312, but the bytes need gbk; read as gb18030"),
        ("gb2312_encoded_words", "gb2312", True, "", "gb18030",
         "declares gb2312, and the bytes are valid gb2312; read as gb18030"),
        ("gb18030_four_byte", "gb18030", True, "", "gb18030",
         "declares gb18030, and the bytes are valid gb18030; read as gb18030"),
        ("wrong_charset_utf8_label", "utf-8", False, "", "gb18030",
         "declares utf-8, but the bytes are not utf-8; read as gb18030"),
        ("no_charset", "", None, "", "gb18030", "no charset declared; read as gb18030"),
    ],
)  # fmt: skip
def test_declared_against_the_bytes(
    fixture: str, declared: str, fits: bool | None, needs: str, decoded_as: str, verdict: str
) -> None:
    [finding] = diagnose(_record(fixture), EmailOptions())
    assert (finding.declared, finding.declared_fits, finding.needs) == (declared, fits, needs)
    assert finding.decoded_as == decoded_as
    assert finding.verdict == verdict


@pytest.mark.parametrize("fixture", ["gbk_declared_gb2312", "latin1_german", "alternative"])
def test_the_first_part_is_read_as_the_parser_reads_it(fixture: str) -> None:
    record = _record(fixture)
    [event] = EmailParser(EmailOptions()).parse(record)
    findings = diagnose(record, EmailOptions())
    assert findings and findings[0].decoded_as == event.labels["charset"]
