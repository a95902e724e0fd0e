"""The ``console:`` section: the people who may use the operator console under /ui/,
their roles, and how long their sessions last."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from core.secretref import SecretRef
from core.secretref import inline_secret as _secret
from core.validation import Strict
from gateway.web.passwords import looks_like_hash

Role = Literal["viewer", "operator", "admin"]
# what each role may do; each role may do what the ones before it may
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")


class PersonConfig(Strict):
    """One person who logs in to the console."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$", description="the login name")
    role: Role = Field(
        description="viewer: reads everything; operator: also acts on incidents and "
        "silences; admin: also retries dead letters"
    )
    password_hash: str = Field(
        description="an argon2 hash made by 'intake-gateway hash-password'; never the password"
    )

    @field_validator("password_hash")
    @classmethod
    def _argon2(cls, value: str) -> str:
        if not looks_like_hash(value):
            raise ValueError(
                "password_hash must be an argon2 hash ('intake-gateway hash-password')"
            )
        return value


class ConsoleConfig(Strict):
    """The operator console under /ui/ on the HTTP listener."""

    enabled: bool = Field(default=True, description="serve the console under /ui/")
    people: tuple[PersonConfig, ...] = Field(
        default=(), description="who may log in; none: nobody can log in"
    )
    session_secret: SecretRef | None = Field(
        default=None,
        description="key that signs session cookies, shared by replicas; "
        "unset: a random key per start (sessions end when the daemon restarts)",
    )
    session_idle_minutes: int = Field(
        default=60, ge=1, le=24 * 60, description="a session ends after this long unused"
    )
    session_max_hours: int = Field(
        default=12, ge=1, le=24 * 30, description="a session ends this long after login"
    )
    secure_cookies: Literal["auto", "always"] = Field(
        default="auto",
        description="auto: cookies are Secure when the request came over TLS (the daemon's "
        "or a trusted proxy's X-Forwarded-Proto); always: Secure in every case",
    )
    login_attempts: int = Field(
        default=5, ge=1, le=1000, description="failed logins per address or name in the window"
    )
    login_window_seconds: int = Field(
        default=300, ge=1, le=86_400, description="the window of login_attempts"
    )

    _secret_ref = field_validator("session_secret", mode="before")(_secret)

    @field_validator("people")
    @classmethod
    def _unique(cls, value: tuple[PersonConfig, ...]) -> tuple[PersonConfig, ...]:
        names = [person.name.lower() for person in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"person named twice: {', '.join(twice)}")
        return value
