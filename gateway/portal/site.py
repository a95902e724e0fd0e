"""The portal as the daemon serves it: built from ``portal:`` when it is enabled."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from core.errors import ConfigError
from core.records import IntakeRecord
from gateway.config.model import LoadedConfig
from gateway.metrics import Metrics
from gateway.portal.answer import StatusAnswers
from gateway.portal.captcha import CaptchaCheck
from gateway.portal.form import RequestForm
from gateway.portal.intake import PortalIntake
from gateway.portal.limits import PortalLimits
from gateway.portal.links import LinkSigner
from gateway.portal.pages import PortalPages, static_files
from gateway.portal.rating import RatingPages
from gateway.portal.status import StatusPages
from gateway.web.clientaddr import ClientAddresses
from storage import Actions, Database, IntakeWriter, Ratings, public_status

_MIN_KEY_CHARS = 32  # a link key is as strong as a password that anyone may guess offline


@dataclass(frozen=True, slots=True)
class PortalWiring:
    """What the portal needs of the daemon: the durable intake path and the actions."""

    writer: IntakeWriter
    handoff: Callable[[IntakeRecord], None]
    metrics: Metrics
    actions: Actions
    clients: ClientAddresses
    clock: Callable[[], datetime]
    services: Callable[[], Sequence[str]]  # the catalogue's, as the current rules have it
    db: Database


def _keys(loaded: LoadedConfig) -> list[str]:
    keys = [
        secret.get_secret_value()
        for index in range(len(loaded.config.portal.keys))
        if (secret := loaded.secrets.get(f"portal.keys.{index}")) is not None
    ]
    if any(len(key) < _MIN_KEY_CHARS for key in keys):
        raise ConfigError(f"portal.keys: every key needs at least {_MIN_KEY_CHARS} characters")
    return keys


def link_signer(loaded: LoadedConfig, clock: Callable[[], datetime]) -> LinkSigner | None:
    """The signer of status page links (None: the portal is off); built before the
    dispatcher, which puts the links in mails."""
    config = loaded.config.portal
    if not config.enabled:
        return None
    return LinkSigner(
        _keys(loaded),
        base_url=config.base_url,
        lifetime=timedelta(days=config.link_days),
        clock=clock,
    )


class Portal:
    def __init__(self, loaded: LoadedConfig, signer: LinkSigner, wiring: PortalWiring) -> None:
        config = loaded.config.portal
        self.signer = signer
        self.pages = PortalPages(config.language)
        self.intake = PortalIntake(
            writer=wiring.writer, handoff=wiring.handoff, metrics=wiring.metrics, clock=wiring.clock
        )
        limit = config.rate_limit
        self.limits = PortalLimits(
            per_address=limit.per_address_per_minute,
            per_sender=limit.per_sender_per_minute,
            burst=limit.burst,
            clients=wiring.clients,
        )
        self.status = StatusPages(
            signer=self.signer,
            pages=self.pages,
            read=public_status,
        )
        self.answers = StatusAnswers(
            status=self.status,
            intake=self.intake,
            actions=wiring.actions,
            limits=self.limits,
            clock=wiring.clock,
            files=config.form,
        )
        self.rating = RatingPages(
            status=self.status,
            pages=self.pages,
            ratings=Ratings(wiring.db),
            limits=self.limits,
            clock=wiring.clock,
        )
        self.form = None
        secret = loaded.secrets.get("portal.captcha.secret")
        captcha = None
        if config.captcha is not None and secret is not None:
            captcha = CaptchaCheck(config.captcha, secret.get_secret_value())
        if config.form.enabled:
            self.form = RequestForm(
                config=config.form,
                pages=self.pages,
                intake=self.intake,
                limits=self.limits,
                services=wiring.services,
                captcha=captcha,
            )

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            *(self.form.routes() if self.form is not None else ()),
            *self.status.routes(),
            *self.answers.routes(),
            *self.rating.routes(),
            *static_files(),
        ]


def build_portal(
    loaded: LoadedConfig, signer: LinkSigner | None, wiring: PortalWiring
) -> Portal | None:
    return Portal(loaded, signer, wiring) if signer is not None else None
