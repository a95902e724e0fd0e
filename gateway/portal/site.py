"""The portal as the daemon serves it: built from ``portal:`` when it is enabled."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.config import LoadedConfig
from gateway.errors import ConfigError
from gateway.portal.links import LinkSigner
from gateway.portal.pages import SECURITY_HEADERS, Pages
from gateway.portal.status import StatusPages
from storage.portal import public_status

_STATIC = Path(__file__).resolve().parent / "static"
_MIN_KEY_CHARS = 32  # a link key is as strong as a password that anyone may guess offline


class Portal:
    def __init__(self, loaded: LoadedConfig, clock: Callable[[], datetime]) -> None:
        config = loaded.config.portal
        keys = [
            secret.get_secret_value()
            for index in range(len(config.keys))
            if (secret := loaded.secrets.get(f"portal.keys.{index}")) is not None
        ]
        if any(len(key) < _MIN_KEY_CHARS for key in keys):
            raise ConfigError(f"portal.keys: every key needs at least {_MIN_KEY_CHARS} characters")
        self.signer = LinkSigner(
            keys, base_url=config.base_url, lifetime=timedelta(days=config.link_days), clock=clock
        )
        self.pages = Pages()
        self.status = StatusPages(
            signer=self.signer,
            pages=self.pages,
            read=public_status,
            default_language=config.language,
        )

    def link(self, incident: dict[str, Any]) -> str:
        """The status page link put in every mail to the requester."""
        return self.signer.url(incident)

    def routes(self) -> list[web.RouteDef]:
        return [*self.status.routes(), web.get("/portal/static/portal.css", _stylesheet)]


async def _stylesheet(request: web.Request) -> web.FileResponse:
    return web.FileResponse(_STATIC / "portal.css", headers=dict(SECURITY_HEADERS))


def build_portal(loaded: LoadedConfig, clock: Callable[[], datetime]) -> Portal | None:
    return Portal(loaded, clock) if loaded.config.portal.enabled else None
