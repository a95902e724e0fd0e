"""Storing what a requester sent through the portal: the durable step the forms share.

A form's content is committed as one intake record of channel ``portal``
(attachments included) before the requester is told it was received, exactly
as a mail is before SMTP's 250; the pipeline parses it later with
parsers.portal. A form sent twice (a double click, a reload of the answer)
has the same dedup key and is stored once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import orjson

from core.errors import DataRejected, StorageUnavailable
from core.records import Channel, IntakeRecord
from gateway.metrics import Metrics
from storage import Committed, IntakeWriter, NewIntake

SOURCE = "portal"
KIND = "portal"
_DEDUP_WINDOW_SECONDS = 600


class PortalIntake:
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

    async def commit(self, document: Mapping[str, Any], peer: str) -> Committed:
        """Store the form durably; raises StorageUnavailable or DataRejected when it was
        not stored (the requester is told to try again; nothing was half-stored)."""
        raw = orjson.dumps(dict(document), option=orjson.OPT_SORT_KEYS)
        now = self._clock()
        bucket = int(now.timestamp()) // _DEDUP_WINDOW_SECONDS
        intake = NewIntake(
            channel=Channel.PORTAL,
            source=SOURCE,
            kind=KIND,
            raw=raw,
            received_at=now,
            meta={"peer": peer, "form": str(document.get("form", ""))},
            dedup_key=f"portal:{bucket}:{hashlib.sha256(raw).hexdigest()}",
        )
        self._metrics.intake_received.labels(Channel.PORTAL.value, SOURCE).inc()
        try:
            committed = await self._writer.commit(intake)
        except (StorageUnavailable, DataRejected) as exc:
            reason = "unavailable" if isinstance(exc, StorageUnavailable) else "unstorable"
            self.rejected(reason)
            raise
        outcome = "duplicate" if committed.duplicate else "stored"
        self._metrics.intake_accepted.labels(Channel.PORTAL.value, SOURCE, outcome).inc()
        if not committed.duplicate:
            self._handoff(intake.stored(committed.id))
        return committed

    def rejected(self, reason: str) -> None:
        """A form refused before storing (rate_limited, invalid, too_large, ...)."""
        self._metrics.intake_rejected.labels(Channel.PORTAL.value, SOURCE, reason).inc()
