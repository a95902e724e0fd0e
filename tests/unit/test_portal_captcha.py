"""The portal's CAPTCHA settings and page parts: the provider's siteverify endpoint by
default, the secret resolved like every other, the widget in the page's language, and
the provider's origins added to the form page's Content-Security-Policy only."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from gateway.config.model import load_config
from gateway.portal.captcha import CaptchaCheck, with_sources
from gateway.portal.config import PortalCaptchaConfig
from gateway.web.templating import CONTENT_SECURITY_POLICY
from tests.unit.test_portal_config import BASE, KEY

PORTAL = f"""\
portal:
  enabled: true
  base_url: http://h
  keys: [{KEY}]
  captcha:
"""


@pytest.mark.parametrize(
    ("provider", "endpoint"),
    [
        ("hcaptcha", "https://api.hcaptcha.com/siteverify"),
        ("turnstile", "https://challenges.cloudflare.com/turnstile/v0/siteverify"),
        ("recaptcha", "https://www.google.com/recaptcha/api/siteverify"),
    ],
)
def test_each_provider_has_its_own_siteverify_endpoint(provider: str, endpoint: str) -> None:
    config = PortalCaptchaConfig.model_validate(
        {"provider": provider, "site_key": "site", "secret": "s"}
    )
    assert config.endpoint == endpoint
    assert config.on_unavailable == "refuse"  # fail closed unless told otherwise
    given = config.model_copy(update={"verify_url": "http://127.0.0.1:9/siteverify"})
    assert given.endpoint == "http://127.0.0.1:9/siteverify"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "    {provider: hcaptcha, site_key: s, secret: {env: CAPTCHA_UNSET_X}}\n",
            "gateway.yaml:14: portal.captcha.secret: environment variable CAPTCHA_UNSET_X",
        ),
        ("    {provider: friendlycaptcha, site_key: s, secret: x}\n", "hcaptcha"),
        ("    {provider: hcaptcha, site_key: s, secret: x, verify_url: ftp://h}\n", "https://"),
        ("    {provider: hcaptcha, secret: x}\n", "site_key"),
    ],
)
def test_mistakes_are_reported(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "rules").mkdir()
    path = tmp_path / "gateway.yaml"
    path.write_text(BASE.format(tmp=tmp_path) + PORTAL + text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert expected in str(raised.value)


def test_the_secret_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPTCHA_SECRET_X", "0x-secret")
    (tmp_path / "rules").mkdir()
    path = tmp_path / "gateway.yaml"
    text = "    {provider: turnstile, site_key: s, secret: {env: CAPTCHA_SECRET_X}}\n"
    path.write_text(BASE.format(tmp=tmp_path) + PORTAL + text)
    secret = load_config(path).secrets.get("portal.captcha.secret")
    assert secret is not None and secret.get_secret_value() == "0x-secret"


def _check(provider: str) -> CaptchaCheck:
    config = PortalCaptchaConfig.model_validate(
        {"provider": provider, "site_key": "site-1", "secret": "s"}
    )
    return CaptchaCheck(config, "s")


@pytest.mark.parametrize(
    ("provider", "zh_script", "zh_attribute", "origin"),
    [
        ("hcaptcha", "https://js.hcaptcha.com/1/api.js?hl=zh-CN", "", "https://*.hcaptcha.com"),
        (
            "turnstile",
            "https://challenges.cloudflare.com/turnstile/v0/api.js",
            "zh-cn",
            "https://challenges.cloudflare.com",
        ),
        (
            "recaptcha",
            "https://www.google.com/recaptcha/api.js?hl=zh-CN",
            "",
            "https://www.google.com/recaptcha/",
        ),
    ],
)
def test_the_widget_speaks_the_page_language_and_its_origin_is_let_in(
    provider: str, zh_script: str, zh_attribute: str, origin: str
) -> None:
    check = _check(provider)
    widget = check.widget("zh")
    assert (widget.script, widget.language, widget.site_key) == (zh_script, zh_attribute, "site-1")
    assert check.widget("en").language in ("", "en")
    policy = dict(
        (part.split()[0], part.split()[1:])
        for part in check.policy(CONTENT_SECURITY_POLICY).split("; ")
    )
    assert policy["script-src"][0] == "'self'" and origin in policy["script-src"]
    assert origin in policy["frame-src"] and "'self'" not in policy["frame-src"]
    # everything else stays as strict as the daemon's own policy
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"]


def test_sources_are_added_to_a_directive_or_make_one() -> None:
    policy = with_sources(
        "default-src 'self'; script-src 'self'",
        {"script-src": ("https://a",), "frame-src": ("https://a",)},
    )
    assert policy == "default-src 'self'; script-src 'self' https://a; frame-src https://a"


async def test_a_missing_or_oversized_token_fails_without_asking_the_provider() -> None:
    def no_session(**_: object) -> object:
        raise AssertionError("the provider was asked")

    config = PortalCaptchaConfig.model_validate(
        {"provider": "hcaptcha", "site_key": "s", "secret": "x"}
    )
    check = CaptchaCheck(config, "x", no_session)  # type: ignore[arg-type]
    assert (await check.verify("", "127.0.0.1")).value == "failed"
    assert (await check.verify("  ", "127.0.0.1")).value == "failed"
    assert (await check.verify("t" * 9000, "127.0.0.1")).value == "failed"
