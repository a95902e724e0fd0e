"""A CAPTCHA on the request form, by the "siteverify" protocol that hCaptcha,
Cloudflare Turnstile and reCAPTCHA share: the widget (the provider's script) puts a
token in the form; the daemon POSTs ``secret``, ``response`` (and ``remoteip``) to the
provider and reads ``{"success": bool, ...}``.

The check runs on the aiohttp client, never blocking the loop, with a session per
check: form posts are few (rate limited), so a pooled session with a lifecycle of its
own would buy nothing. The provider's origins are let into the Content-Security-Policy
of the form's page only, and only when a CAPTCHA is configured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

import aiohttp
import structlog

from gateway.portal.config import PortalCaptchaConfig

log = structlog.get_logger(__name__)

MAX_TOKEN_CHARS = 8192  # tokens are a few KiB at most; more is not one


@dataclass(frozen=True, slots=True)
class Provider:
    """What the page needs of one provider: its widget, its token field, its script,
    and the origins its widget loads from (CSP directive -> sources)."""

    widget_class: str
    token_field: str
    script: str
    sources: Mapping[str, tuple[str, ...]]
    zh: str  # the provider's code for Chinese
    language_in_script: bool  # ?hl= on the script (else data-language on the widget)


_HCAPTCHA = ("https://hcaptcha.com", "https://*.hcaptcha.com")
PROVIDERS: Mapping[str, Provider] = {
    # hCaptcha's widget also fetches styles and makes requests of its own origins
    "hcaptcha": Provider(
        "h-captcha",
        "h-captcha-response",
        "https://js.hcaptcha.com/1/api.js",
        {name: _HCAPTCHA for name in ("script-src", "frame-src", "style-src", "connect-src")},
        "zh-CN",
        True,
    ),
    "turnstile": Provider(
        "cf-turnstile",
        "cf-turnstile-response",
        "https://challenges.cloudflare.com/turnstile/v0/api.js",
        {
            "script-src": ("https://challenges.cloudflare.com",),
            "frame-src": ("https://challenges.cloudflare.com",),
        },
        "zh-cn",
        False,
    ),
    "recaptcha": Provider(
        "g-recaptcha",
        "g-recaptcha-response",
        "https://www.google.com/recaptcha/api.js",
        {
            "script-src": (
                "https://www.google.com/recaptcha/",
                "https://www.gstatic.com/recaptcha/",
            ),
            "frame-src": (
                "https://www.google.com/recaptcha/",
                "https://recaptcha.google.com/recaptcha/",
            ),
        },
        "zh-CN",
        True,
    ),
}


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # no token, or the provider said no
    UNAVAILABLE = "unavailable"  # the provider could not be asked, or answered nonsense


@dataclass(frozen=True, slots=True)
class Widget:
    """The widget as the form's template shows it, in the page's language."""

    widget_class: str
    site_key: str
    script: str
    language: str  # data-language on the widget ("" when the script carries it)


def with_sources(policy: str, sources: Mapping[str, tuple[str, ...]]) -> str:
    """``policy`` with ``sources`` added to their directives (a missing directive is
    added with only them: the provider's frames, never the daemon's own)."""
    directives = [part.strip() for part in policy.split(";") if part.strip()]
    names = [part.split()[0] for part in directives]
    for name, extra in sources.items():
        if name in names:
            index = names.index(name)
            directives[index] = " ".join((directives[index], *extra))
        else:
            directives.append(" ".join((name, *extra)))
            names.append(name)
    return "; ".join(directives)


class CaptchaCheck:
    def __init__(
        self,
        config: PortalCaptchaConfig,
        secret: str,
        session: Callable[..., aiohttp.ClientSession] = aiohttp.ClientSession,
    ) -> None:
        self._config = config
        self._secret = secret
        self._session = session
        self.provider = PROVIDERS[config.provider]

    @property
    def token_field(self) -> str:
        return self.provider.token_field

    @property
    def accept_unavailable(self) -> bool:
        return self._config.on_unavailable == "accept"

    def widget(self, language: str) -> Widget:
        provider = self.provider
        code = provider.zh if language == "zh" else "en"
        script = provider.script
        if provider.language_in_script:
            script += "?" + urlencode({"hl": code})
        return Widget(
            provider.widget_class,
            self._config.site_key,
            script,
            "" if provider.language_in_script else code,
        )

    def policy(self, base: str) -> str:
        return with_sources(base, self.provider.sources)

    async def verify(self, token: str, client: str) -> Outcome:
        token = token.strip()
        if not token or len(token) > MAX_TOKEN_CHARS:
            return Outcome.FAILED
        form = {"secret": self._secret, "response": token}
        if self._config.send_client_address and client:
            form["remoteip"] = client
        timeout = aiohttp.ClientTimeout(total=self._config.timeout_seconds)
        try:
            async with (
                self._session(timeout=timeout) as session,
                session.post(self._config.endpoint, data=form) as answer,
            ):
                if answer.status != 200:
                    log.warning("portal_captcha_unavailable", status=answer.status)
                    return Outcome.UNAVAILABLE
                body: Any = await answer.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("portal_captcha_unavailable", error=type(exc).__name__)
            return Outcome.UNAVAILABLE
        if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
            log.warning("portal_captcha_unavailable", error="not a siteverify answer")
            return Outcome.UNAVAILABLE
        if body["success"]:
            return Outcome.PASSED
        codes = body.get("error-codes")
        log.info("portal_captcha_failed", codes=codes[:5] if isinstance(codes, list) else None)
        return Outcome.FAILED
