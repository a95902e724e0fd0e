"""The request form with a CAPTCHA, through the daemon's HTTP listener on both engines,
against a local stand-in that speaks the siteverify protocol: the widget and its
provider's origins appear on the form page only (in English and Chinese); a request is
stored only when the provider says the token is good; a missing or refused token, a
provider that is down, slow or answers an error store nothing and give the form back
with its values and the reason; fail-open lets requests in while the provider is down,
but never one the provider refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from gateway.web.templating import CONTENT_SECURITY_POLICY
from storage import models
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, running_daemon
from tests.integration.fakes.mail import capturing_smtp
from tests.integration.fakes.server import Fault
from tests.integration.fakes.siteverify import GOOD_TOKEN, FakeSiteverify
from tests.integration.portal_support import page, portal_config, post_form

SECRET = "0x4AAAAAAA-test-secret-of-the-desk"
SITE_KEY = "10000000-ffff-ffff-ffff-000000000001"
SUBJECT = '<b>VPN</b> drops every "10 minutes"'
TOKEN_FIELD = "h-captcha-response"
AGAIN_LATER = "Please try again later"


def _form(token: str | None, **values: str) -> dict[str, str]:
    fields = {
        "type": "incident",
        "service": "mail",
        "name": "Eve",
        "email": "eve@client.example",
        "subject": SUBJECT,
        "text": "since this morning",
        "website": "",
        **values,
    }
    if token is not None:
        fields[TOKEN_FIELD] = token
    return fields


async def _stored() -> int:
    return await models.IntakeRecordRow.filter(channel="portal").count()


async def _csp(daemon: RunningDaemon, path: str) -> str:
    async with daemon.http.get(path) as answer:
        return answer.headers["Content-Security-Policy"]


def _kept(text: str) -> bool:
    """The form came back with what the requester typed."""
    return str(escape(SUBJECT)) in text and "since this morning" in text


@asynccontextmanager
async def _portal(
    write_config: ConfigWriter,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    **more: Any,
) -> AsyncIterator[tuple[RunningDaemon, FakeSiteverify]]:
    """The daemon with an hCaptcha checked by a local siteverify stand-in."""
    monkeypatch.setenv("PORTAL_CAPTCHA_SECRET", SECRET)
    provider = FakeSiteverify(SECRET)
    await provider.start()
    try:
        async with capturing_smtp() as (_, port):
            captcha = {
                "provider": "hcaptcha",
                "site_key": SITE_KEY,
                "secret": {"env": "PORTAL_CAPTCHA_SECRET"},
                "verify_url": provider.verify_url,
                "timeout_seconds": 0.5,
                **more,
            }
            # no files; more posts from one address than a person makes
            portal: dict[str, Any] = {"form": {"max_attachments": 0}, "rate_limit": {"burst": 50}}
            catalogue = tmp_path / "catalogue.yaml"
            loaded = portal_config(
                write_config, database_url, port, catalogue=catalogue, captcha=captcha, **portal
            )
            async with running_daemon(loaded) as daemon:
                yield daemon, provider
    finally:
        await provider.close()


async def test_only_a_request_the_provider_passed_is_stored(
    write_config: ConfigWriter,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with _portal(write_config, database_url, tmp_path, monkeypatch) as (
        daemon,
        provider,
    ):
        # the widget, in the page's language, and its provider let in on this page only
        status, text = await page(daemon, "/portal/", "zh-CN")
        assert status == 200 and "人机验证需要 JavaScript" in text
        assert f'class="h-captcha" data-sitekey="{SITE_KEY}"' in text
        assert "https://js.hcaptcha.com/1/api.js?hl=zh-CN" in text
        status, text = await page(daemon, "/portal/?lang=en")
        assert "https://js.hcaptcha.com/1/api.js?hl=en" in text
        policy = await _csp(daemon, "/portal/")
        assert "script-src 'self' https://hcaptcha.com https://*.hcaptcha.com" in policy
        assert "frame-src https://hcaptcha.com https://*.hcaptcha.com" in policy
        assert await _csp(daemon, "/portal/thanks") == CONTENT_SECURITY_POLICY

        # no token: refused without asking the provider, values kept, nothing stored
        status, _, text = await post_form(daemon, "/portal/", _form(None))
        assert status == 400 and "Please confirm that you are a person" in text
        assert _kept(text) and provider.forms == []
        # a token the provider refuses, in Chinese
        status, _, text = await post_form(daemon, "/portal/", _form("forged"), "zh-CN")
        assert status == 400 and "请先完成下方的人机验证" in text and _kept(text)
        assert provider.forms == [{"secret": SECRET, "response": "forged", "remoteip": "127.0.0.1"}]
        # the check goes with the others: every problem is shown at once
        status, _, text = await post_form(daemon, "/portal/", _form("forged", email="x"))
        assert status == 400 and "Please confirm that you are a person" in text
        assert "Give a mail address we can answer to" in text
        assert await _stored() == 0

        # the provider slow, answering an error, down: fail closed, try again later
        provider.fail(Fault(path="/siteverify", late_seconds=2))
        provider.fail(Fault(path="/siteverify", status=500, body="oops"))
        provider.fail(Fault(path="/siteverify", status=200, body="<html>"))
        for language, words in (("en", AGAIN_LATER), ("zh-CN", "请稍后再试")):
            for _ in range(2 if language == "en" else 1):
                status, _, text = await post_form(daemon, "/portal/", _form(GOOD_TOKEN), language)
                assert status == 503 and words in text and _kept(text)
        await provider.stop()
        status, _, text = await post_form(daemon, "/portal/", _form(GOOD_TOKEN))
        assert status == 503 and AGAIN_LATER in text and _kept(text)
        assert await _stored() == 0

        await provider.start()  # back, on the same port
        status, location, _ = await post_form(daemon, "/portal/", _form(GOOD_TOKEN))
        assert status == 303 and location.startswith("/portal/thanks?ref=P-")
        assert await _stored() == 1
        async with daemon.http.get("/metrics") as answer:
            metrics = await answer.text()
        assert 'reason="captcha"}' in metrics
        assert 'reason="captcha_unavailable"}' in metrics


async def test_fail_open_lets_requests_in_while_the_provider_is_down(
    write_config: ConfigWriter,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with _portal(
        write_config,
        database_url,
        tmp_path,
        monkeypatch,
        on_unavailable="accept",
        send_client_address=False,
    ) as (
        daemon,
        provider,
    ):
        # reachable: its no still counts, and the client's address is not sent
        status, _, text = await post_form(daemon, "/portal/", _form("forged"))
        assert status == 400 and _kept(text)
        assert provider.forms == [{"secret": SECRET, "response": "forged"}]
        provider.fail(Fault(path="/siteverify", late_seconds=2))
        status, _, _ = await post_form(daemon, "/portal/", _form("anything"))
        assert status == 303
        await provider.stop()
        later = _form("anything", subject="VPN drops again")
        status, _, _ = await post_form(daemon, "/portal/", later)
        assert status == 303
        # a missing token is never "unavailable": no widget answer, no request
        status, _, text = await post_form(daemon, "/portal/", _form(None))
        assert status == 400 and "Please confirm that you are a person" in text
        assert await _stored() == 2


async def test_without_a_captcha_the_form_page_keeps_the_strict_policy(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    async with capturing_smtp() as (_, port):
        loaded = portal_config(write_config, "", port, catalogue=tmp_path / "catalogue.yaml")
        async with running_daemon(loaded) as daemon:
            assert await _csp(daemon, "/portal/") == CONTENT_SECURITY_POLICY
            status, text = await page(daemon, "/portal/")
            assert status == 200 and "hcaptcha" not in text and 'id="captcha"' not in text
