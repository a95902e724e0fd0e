"""Options of the email parser, validated from a mailbox's ``options`` in config."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.records import Severity
from parsers.mail.bounded import Limits

_ADDRESS = r"^[^@\s<>]+@[^@\s<>]+$"


class EmailOptions(BaseModel):
    """Options of a ``kind: email`` mailbox or listener."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_severity: Severity = Field(
        default=Severity.MEDIUM,
        description="severity of a mail without X-Priority/Importance high",
    )
    key_prefix: str = Field(
        default="INC",
        pattern=r"^[A-Za-z][A-Za-z0-9]{0,15}$",
        description="prefix of incident keys in subjects: [INC-000123] marks a reply",
    )
    detect_monitoring: bool = Field(
        default=True,
        description="turn Nagios/Icinga and Zabbix notification mail into their alerts",
    )
    monitoring_senders: tuple[Annotated[str, StringConstraints(pattern=_ADDRESS)], ...] = Field(
        default=(),
        description="addresses whose mail may be monitoring notifications; empty: any sender",
    )
    max_parts: int = Field(default=1000, ge=1, le=100_000, description="MIME parts read")
    max_depth: int = Field(default=20, ge=1, le=100, description="MIME nesting levels read")
    max_headers: int = Field(
        default=1000, ge=10, le=100_000, description="header fields read per part"
    )
    max_header_bytes: int = Field(
        default=64 * 1024, ge=1024, le=1024 * 1024, description="bytes read of one header field"
    )
    max_text_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="bytes of body text decoded (over all text parts)",
    )
    max_html_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="bytes of HTML converted to text, over all HTML parts (the costly step)",
    )
    max_references: int = Field(
        default=100, ge=2, le=10_000, description="Message-IDs kept of References/In-Reply-To"
    )
    max_date_age_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="a Date header older than this (before receipt) is not believed",
    )
    max_date_ahead_hours: int = Field(
        default=24,
        ge=0,
        le=24 * 365,
        description="a Date header further than this after receipt is not believed",
    )

    @property
    def limits(self) -> Limits:
        return Limits(self.max_parts, self.max_depth, self.max_headers, self.max_header_bytes)
