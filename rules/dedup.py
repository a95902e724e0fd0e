"""Fingerprints (how repeats are recognised) and the de-duplication window."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from core.records import Event
from rules.decision import EventState, StoredStatus
from rules.draft import Draft
from rules.fields import Getter
from rules.templates import Template


class Fingerprinter(Protocol):
    def compute(self, draft: Draft) -> str: ...


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class SourceFingerprint:
    """The source's own fingerprint, else Event.default_fingerprint()."""

    def compute(self, draft: Draft) -> str:
        return draft.event.fingerprint or draft.event.default_fingerprint()


@dataclass(frozen=True, slots=True)
class FieldsFingerprint:
    """A hash of the listed fields; the field names are part of it so lists differ."""

    names: tuple[str, ...]
    getters: tuple[Getter, ...]

    def compute(self, draft: Draft) -> str:
        values = (
            f"{name}={get(draft) or ''}" for name, get in zip(self.names, self.getters, strict=True)
        )
        return _digest("\x00".join(values))


@dataclass(frozen=True, slots=True)
class TemplateFingerprint:
    template: Template

    def compute(self, draft: Draft) -> str:
        return _digest(self.template.render(draft))


def is_repeat(
    stored: EventState | None, event: Event, now: datetime, window: timedelta | None
) -> bool:
    """The same status again, within the dedup window (None: no window)."""
    if stored is None or stored.status is not StoredStatus.of(event.status):
        return False
    return window is None or now - stored.last_seen <= window
