"""Rows a unit of work reads ahead for a batch of events.

Every event's state starts with two rows: its event (by fingerprint) and the
open incident of its correlation key. Read per event that is two statements
each, and on PostgreSQL each statement is a round trip. A unit applying a
batch reads them for the whole batch in two statements instead (on
PostgreSQL locked, in id order, as the per-event reads would lock them).

A row read ahead is used until the unit writes over it; after that the
event, key or incident is read again, so a later event of the same batch
always sees what an earlier one wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

Row = dict[str, Any]


class Unknown:
    """Not read ahead, or written over since: read the row itself."""


UNKNOWN: Final = Unknown()


@dataclass(slots=True)
class ReadAhead:
    events: dict[str, Row | None]  # by fingerprint; None: no such event
    incidents: dict[str, Row | None]  # by open key; None: no open incident
    _stale_events: set[str] = field(default_factory=set)
    _stale_keys: set[str] = field(default_factory=set)
    _stale_incidents: set[int] = field(default_factory=set)
    _all_stale: bool = False

    @classmethod
    def of(
        cls,
        fingerprints: Iterable[str],
        keys: Iterable[str],
        event_rows: Iterable[Row],
        incident_rows: Iterable[Row],
    ) -> ReadAhead:
        events: dict[str, Row | None] = dict.fromkeys(fingerprints)
        events.update((row["fingerprint"], row) for row in event_rows)
        incidents: dict[str, Row | None] = dict.fromkeys(keys)
        incidents.update((row["open_key"], row) for row in incident_rows)
        return cls(events, incidents)

    def event(self, fingerprint: str) -> Row | Unknown | None:
        if self._all_stale or fingerprint in self._stale_events:
            return UNKNOWN
        return self.events.get(fingerprint, UNKNOWN)

    def incident(self, key: str) -> Row | Unknown | None:
        if self._all_stale or key in self._stale_keys:
            return UNKNOWN
        row = self.incidents.get(key, UNKNOWN)
        if isinstance(row, dict) and int(row["id"]) in self._stale_incidents:
            return UNKNOWN
        return row

    def wrote(
        self, *, fingerprints: Iterable[str], keys: Iterable[str], incidents: Iterable[int | None]
    ) -> None:
        """The unit wrote these events, keys' open incidents and incidents."""
        self._stale_events.update(fingerprints)
        self._stale_keys.update(keys)
        self._stale_incidents.update(ident for ident in incidents if ident is not None)

    def wrote_anything(self) -> None:
        """The unit wrote rows it cannot name (several events at once): read all again."""
        self._all_stale = True
