"""A local stand-in for a CAPTCHA provider's siteverify endpoint (hCaptcha, Turnstile
and reCAPTCHA speak the same protocol): a form POST of secret, response and remoteip,
answered with ``{"success": bool, "error-codes": [...]}``. One token passes; every
other fails. Faults (late, error status) and ``stop()`` come from FakeServer."""

from __future__ import annotations

from aiohttp import web

from tests.integration.fakes.server import FakeServer

GOOD_TOKEN = "10000000-aaaa-bbbb-cccc-000000000001"
PATH = "/siteverify"


class FakeSiteverify(FakeServer):
    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.forms: list[dict[str, str]] = []  # every form posted, in order
        self.app.router.add_post(PATH, self.verify)

    @property
    def verify_url(self) -> str:
        return self.url + PATH

    async def verify(self, request: web.Request) -> web.Response:
        posted = await request.post()
        form = {key: str(value) for key, value in posted.items()}
        self.forms.append(form)
        if form.get("secret") != self.secret:
            return web.json_response({"success": False, "error-codes": ["invalid-input-secret"]})
        if form.get("response") != GOOD_TOKEN:
            return web.json_response({"success": False, "error-codes": ["invalid-input-response"]})
        return web.json_response({"success": True, "hostname": "help.example.org"})
