"""Storing one received mail: the step SMTP and IMAP share.

A mail is committed raw, unchanged, as an intake record of kind ``email``
under its mailbox's name; only then does the adapter acknowledge it (SMTP
250, IMAP \\Seen or move). A re-delivery (same key) is acknowledged too and
changes nothing. Parsing happens later, in the pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from core.errors import DataRejected, StorageUnavailable
from core.records import Channel, IntakeRecord
from gateway.config.mail import MailboxConfig
from gateway.metrics import Metrics
from storage import Committed, IntakeWriter, NewIntake

MAIL_KIND = "email"


@dataclass(frozen=True, slots=True)
class Mailbox:
    """An accepted address, as the adapters need it."""

    name: str
    address: str  # lower-cased
    config: MailboxConfig


def mailboxes_by_address(configs: tuple[MailboxConfig, ...]) -> dict[str, Mailbox]:
    return {
        item.address.lower(): Mailbox(item.name, item.address.lower(), item) for item in configs
    }


class MailIntake:
    """Commit a raw mail, count the outcome, and hand a new record to the pipeline."""

    def __init__(
        self,
        *,
        writer: IntakeWriter,
        handoff: Callable[[IntakeRecord], None],
        metrics: Metrics,
        clock: Callable[[], datetime],
    ) -> None:
        self._writer = writer
        self._handoff = handoff
        self._metrics = metrics
        self._clock = clock

    async def commit(
        self,
        *,
        channel: Channel,
        mailbox: str,
        raw: bytes,
        meta: Mapping[str, str],
        dedup_key: str,
    ) -> Committed:
        """Store the mail durably; raises StorageUnavailable when it was not stored,
        DataRejected when the database refuses this mail (it would again)."""
        intake = NewIntake(
            channel=channel,
            source=mailbox,
            kind=MAIL_KIND,
            raw=raw,
            received_at=self._clock(),
            meta=meta,
            dedup_key=dedup_key,
        )
        started = time.perf_counter()
        try:
            committed = await self._writer.commit(intake)
        except StorageUnavailable:
            self.count(channel, "unavailable")
            raise
        except DataRejected:
            self.count(channel, "refused")
            raise
        self._metrics.commit_seconds.labels(channel.value).observe(time.perf_counter() - started)
        self._metrics.intake_accepted.labels(
            channel.value, mailbox, "duplicate" if committed.duplicate else "stored"
        ).inc()
        self.count(channel, "duplicate" if committed.duplicate else "accepted")
        if not committed.duplicate:
            self._handoff(intake.stored(committed.id))
        return committed

    def count(self, channel: Channel, outcome: str) -> None:
        """One mail, by how it ended: accepted, duplicate, rejected, too_large, unavailable,
        refused (the database refused to store it)."""
        self._metrics.mail_messages.labels(channel.value, outcome).inc()
