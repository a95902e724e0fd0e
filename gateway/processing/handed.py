"""What the edge hands the pipeline with a committed record's id: the record as it
was committed, and the events the edge parsed while validating it.

Kept within bounds; past them (a deep backlog) records are read back, and
parsed, from storage instead.
"""

from __future__ import annotations

from core.records import Event, IntakeRecord

_PARSED_CACHE_EVENTS = 10_000
_HANDED_CACHE_BYTES = 64 * 1024 * 1024


class HandedOver:
    def __init__(self) -> None:
        self.records: dict[int, IntakeRecord] = {}
        self._bytes = 0
        self._events: dict[int, list[Event]] = {}
        self._event_count = 0  # in self._events: what bounds its memory

    def keep(self, record: IntakeRecord, events: list[Event] | None) -> None:
        if self._bytes + len(record.raw) <= _HANDED_CACHE_BYTES:
            self.records[record.id] = record
            self._bytes += len(record.raw)
        if events is not None and self._event_count + len(events) <= _PARSED_CACHE_EVENTS:
            self._events[record.id] = events
            self._event_count += len(events)

    def parsed(self, record_id: int) -> bool:
        return record_id in self._events

    def take_events(self, record_id: int) -> list[Event] | None:
        events = self._events.pop(record_id, None)
        if events is not None:
            self._event_count -= len(events)
        return events

    def forget(self, record_id: int) -> None:
        self.take_events(record_id)
        record = self.records.pop(record_id, None)
        if record is not None:
            self._bytes -= len(record.raw)
