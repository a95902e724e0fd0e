"""The ``portal:`` section: the requester status pages and the links to them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from gateway.configbase import Frozen
from gateway.secretref import SecretRef
from gateway.secretref import inline_secret as _secret

Language = Literal["en", "zh"]


class PortalRateLimit(Frozen):
    """Posts accepted from one sender; more get 429 and a page saying so."""

    per_address_per_minute: float = Field(
        default=30, gt=0, description="form posts a minute from one client IP address"
    )
    per_sender_per_minute: float = Field(
        default=10,
        gt=0,
        description="form posts a minute for one requester mail address (the form) or "
        "one incident (its status page)",
    )
    burst: int = Field(default=10, ge=1, le=1000, description="posts allowed at once")


class PortalConfig(Frozen):
    """Pages for the people who report: a status page per incident behind a signed,
    expiring link (in every mail to the requester), without login."""

    enabled: bool = Field(default=False, description="serve /portal/ and put links in mails")
    base_url: str = Field(
        default="",
        description="the address requesters reach the daemon at, e.g. "
        "https://help.example.org; links are <base_url>/portal/status/<token>",
    )
    keys: tuple[SecretRef, ...] = Field(
        default=(),
        description="signing keys of the links ({env: NAME} or {file: /path}), newest first: "
        "the first signs, every one verifies, so a new key goes in front and an old one "
        "stays until its links have expired",
    )
    link_days: int = Field(
        default=30, ge=1, le=3650, description="how long a link stays valid after it was sent"
    )
    language: Language = Field(
        default="en",
        description="page language when neither ?lang= nor the browser's Accept-Language "
        "asks for en or zh",
    )

    rate_limit: PortalRateLimit = Field(
        default=PortalRateLimit(), description="limits of the forms, per address and sender"
    )

    @field_validator("keys", mode="before")
    @classmethod
    def _inline_keys(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return tuple(_secret(item) for item in value)
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _complete(self) -> PortalConfig:
        if self.enabled and (not self.base_url or not self.keys):
            raise ValueError("an enabled portal needs base_url and at least one key")
        return self
