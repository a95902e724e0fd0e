"""Mail to requesters when their incident changes, and the survey on resolution.

A loop reads the recent public status changes (the timeline) and queues, per
change, the mails the requester's mailbox asks for (``mailboxes[].notify``,
``portal.form.notify`` for requests from the form): a notice of the changes
listed in ``changes``, outside ``quiet_hours`` (held until they end), and on
``resolved`` one survey per incident with the rating links. Never to an
automated sender: an incident opened by monitoring mail, an address such as
no-reply@ or mailer-daemon@, the sending sink's own address. Each mail is one
outbox row with a key of its own, so a replica or a later round queues nothing
twice.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import structlog

from core.errors import StorageUnavailable
from core.outbox import OutboxAction
from gateway.background import background
from gateway.config.mail import QuietHours, RequesterNotifyConfig
from gateway.config.model import GatewayConfig
from gateway.portal.intake import SOURCE as PORTAL_SOURCE
from sinks.config import EmailSinkConfig
from storage import Change, RequesterMail

log = structlog.get_logger(__name__)

# changes older than this are never announced (quiet hours end within a day)
LOOKBACK = timedelta(hours=24)
_PERSON_MAIL = ("new", "reply")
_AUTOMATED = re.compile(
    r"^(no-?reply|do-?not-?reply|mailer-daemon|postmaster|bounces?|notifications?|"
    r"monitoring|nagios|icinga|zabbix|alertmanager|root)([+._-].*)?@"
)


def notify_policies(config: GatewayConfig) -> dict[str, RequesterNotifyConfig]:
    """By source (mailbox name, or the portal): the notification settings."""
    found = {mailbox.name: mailbox.notify for mailbox in config.mailboxes if mailbox.notify}
    if config.portal.enabled and config.portal.form.notify is not None:
        found[PORTAL_SOURCE] = config.portal.form.notify
    return found


def sink_addresses(config: GatewayConfig) -> frozenset[str]:
    return frozenset(
        sink.from_address.strip().lower()
        for sink in config.sinks
        if isinstance(sink, EmailSinkConfig)
    )


def automated(change: Change, own: frozenset[str]) -> bool:
    """Whether the requester is a machine (or the gateway itself): never mailed."""
    if change.source != PORTAL_SOURCE and change.mail_kind not in _PERSON_MAIL:
        return True  # monitoring mail, or no mail at all
    return change.requester in own or bool(_AUTOMATED.match(change.requester))


def in_quiet_hours(hours: QuietHours | None, now: datetime) -> bool:
    if hours is None:
        return False
    local = now.astimezone(ZoneInfo(hours.timezone)).time()
    start, end = time.fromisoformat(hours.start), time.fromisoformat(hours.end)
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # over midnight


class RequesterNotifier:
    def __init__(
        self,
        *,
        store: RequesterMail,
        config: Callable[[], GatewayConfig],
        clock: Callable[[], datetime],
        interval_seconds: float,
        on_commit: Callable[[], None],
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self._interval = interval_seconds
        self._on_commit = on_commit

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RequesterNotifier]:
        async with background(self._loop(), "requester-mail"):
            yield self

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once(self._clock())
            except StorageUnavailable as exc:
                log.warning("requester_mail_storage_unavailable", error=str(exc))

    async def run_once(self, now: datetime) -> int:
        """Queue what is due at ``now``; return how many mails were queued."""
        config = self._config()
        policies = notify_policies(config)
        if not policies:
            return 0
        survey = config.portal.enabled
        kinds = {kind for policy in policies.values() for kind in policy.changes}
        if survey:
            kinds.add("resolved")
        own = sink_addresses(config)
        queued = 0
        for change in await self._store.recent_changes(now - LOOKBACK, kinds):
            policy = policies.get(change.source)
            if policy is None or automated(change, own):
                continue
            queued += await self._queue(change, policy, survey, now)
        if queued:
            self._on_commit()
            log.info("requester_mail_queued", mails=queued)
        return queued

    async def _queue(
        self, change: Change, policy: RequesterNotifyConfig, survey: bool, now: datetime
    ) -> int:
        wanted: list[tuple[OutboxAction, bool]] = []
        if change.kind in policy.changes and not in_quiet_hours(policy.quiet_hours, now):
            wanted.append((OutboxAction.NOTIFY, False))
        if change.kind == "resolved" and policy.survey and survey:
            wanted.append((OutboxAction.SURVEY, True))
        queued = 0
        for action, once in wanted:
            queued += await self._store.queue(
                change,
                sink=policy.sink,
                action=action,
                once_per_incident=once,
                max_per_sender=policy.max_per_sender,
                window=timedelta(seconds=policy.window_seconds),
                now=now,
            )
        return queued
