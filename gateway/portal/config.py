"""The ``portal:`` section: the requester status pages and the links to them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from core.secretref import SecretRef
from core.secretref import inline_secret as _secret
from core.validation import Strict
from gateway.config.mail import IncidentType, MailAnswerConfig, RequesterNotifyConfig

Language = Literal["en", "zh"]


class PortalRateLimit(Strict):
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


_ALL_TYPES: tuple[IncidentType, ...] = (
    "incident",
    "service_request",
    "complaint",
    "change_request",
)


class PortalField(Strict):
    """A field of the form for one request type, beyond subject and description."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,30}$", description="its name (the event label portal_<name>)"
    )
    label: str = Field(min_length=1, max_length=200, description="what the form says (English)")
    label_zh: str = Field(default="", max_length=200, description="what it says in Chinese")
    required: bool = Field(default=False, description="the form is refused without it")


class PortalFormConfig(Strict):
    """The request form at /portal/: a new incident, service request, complaint or change
    request, stored as an intake record of channel portal and judged by the rules."""

    enabled: bool = Field(default=True, description="serve the form (the status pages stay)")
    types: tuple[IncidentType, ...] = Field(
        default=_ALL_TYPES, min_length=1, description="request types offered"
    )
    service_required: tuple[IncidentType, ...] = Field(
        default=("incident", "service_request", "change_request"),
        description="types that must name a service of the catalogue",
    )
    fields: dict[IncidentType, tuple[PortalField, ...]] = Field(
        default_factory=dict, description="more fields per request type"
    )
    allowed_domains: tuple[str, ...] = Field(
        default=(),
        description="mail domains requesters may give (e.g. example.org); empty: any",
    )
    max_attachments: int = Field(default=3, ge=0, le=20, description="files per request")
    max_attachment_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, le=50 * 1024 * 1024, description="largest file"
    )
    attachment_types: tuple[str, ...] = Field(
        default=("image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain"),
        description="media types of files accepted; a file must also look like its type "
        "(png, jpeg, gif, pdf, plain UTF-8 text are checked)",
    )
    acknowledge: MailAnswerConfig | None = Field(
        default=None,
        description="answer the requester of a new request (key and status page link) "
        "through this email sink; none: no answer",
    )
    notify: RequesterNotifyConfig | None = Field(
        default=None,
        description="status change mails and the survey for requests from the form",
    )


CaptchaProvider = Literal["hcaptcha", "turnstile", "recaptcha"]
# where each provider answers the siteverify protocol (POST secret, response, remoteip)
VERIFY_URLS: dict[str, str] = {
    "hcaptcha": "https://api.hcaptcha.com/siteverify",
    "turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    "recaptcha": "https://www.google.com/recaptcha/api/siteverify",
}


class PortalCaptchaConfig(Strict):
    """A CAPTCHA on the request form, checked by the provider's siteverify endpoint
    before anything is stored."""

    provider: CaptchaProvider = Field(
        description="hcaptcha, turnstile (Cloudflare) or recaptcha (v2 checkbox)"
    )
    site_key: str = Field(
        min_length=1, max_length=200, description="the public key the widget is shown with"
    )
    secret: SecretRef = Field(
        description="the secret key sent to the provider ({env: NAME} or {file: /path})"
    )
    verify_url: str = Field(
        default="",
        description="the siteverify endpoint; empty: the provider's own (a local stand-in "
        "that speaks the same protocol may be given for tests)",
    )
    timeout_seconds: float = Field(
        default=5, gt=0, le=30, description="how long to wait for the provider's answer"
    )
    on_unavailable: Literal["refuse", "accept"] = Field(
        default="refuse",
        description="when the provider cannot be reached or answers nonsense: refuse "
        "(the form again with 'try again later', nothing stored) or accept the request "
        "unchecked",
    )
    send_client_address: bool = Field(
        default=True, description="send the client's address to the provider (remoteip)"
    )

    _inline = field_validator("secret", mode="before")(_secret)

    @field_validator("verify_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("verify_url must start with https:// (or http:// for a stand-in)")
        return value

    @property
    def endpoint(self) -> str:
        return self.verify_url or VERIFY_URLS[self.provider]


class PortalConfig(Strict):
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

    form: PortalFormConfig = Field(
        default=PortalFormConfig(), description="the request form at /portal/"
    )
    captcha: PortalCaptchaConfig | None = Field(
        default=None,
        description="a CAPTCHA on the request form (hCaptcha, Turnstile or reCAPTCHA); "
        "none: the honeypot and rate limits only",
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
