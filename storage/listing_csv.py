"""The incident and event listings as CSV cells, made straight from the query's rows:
the columns and values of the JSON items (storage.views) flattened by
``core.tabular.flat``, without building each row's JSON form first."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from operator import itemgetter
from typing import Any

import orjson

from core.tabular import flat
from storage.sql import as_json
from storage.views import (
    _EVENT_COLUMNS,
    _INCIDENT_COLUMNS,
    EventFilter,
    IncidentFilter,
    Row,
    _key_of,
    _reader,
    _ref_json,
    _time,
    event_json,
    event_rows,
    incident_json,
    incident_rows,
)

_BOOLEANS = {"major", "response_breached", "resolution_breached", "flapping"}
_TIMES = {
    "response_due", "resolution_due", "created_at", "updated_at", "acknowledged_at",
    "resolved_at", "closed_at", "pending_since", "resolve_after", "rated_at", "first_seen",
    "last_seen",
}  # fmt: skip
_RENAMED = {  # JSON -> column
    "outcome": "last_outcome",
    "merged_into": "merged_into_id",
    "sla.calendar": "sla_calendar",
}
_DERIVED: dict[str, Callable[[Any], Any]] = {"merged_into": _key_of}  # from that column


def _names(columns: str) -> list[str]:
    return [name.strip() for name in columns.split(",")]


class _Cells:
    """Cells of JSON columns (flattened names) from a row of ``selected`` columns, by
    position: a copy, then times and booleans written as the JSON form writes them."""

    def __init__(self, json_columns: Sequence[str], selected: Sequence[str]) -> None:
        names = [_RENAMED.get(column, column.rpartition(".")[2]) for column in json_columns]
        self._at = [selected.index(name) for name in names]
        self._times = [index for index, name in enumerate(names) if name in _TIMES]
        self._flags = [index for index, name in enumerate(names) if name in _BOOLEANS]
        self._derived = [
            (index, _DERIVED[column]) for index, column in enumerate(json_columns)
            if column in _DERIVED
        ]  # fmt: skip
        # a tuple even for a single column (itemgetter of one index gives the value)
        pick = itemgetter(*self._at)
        self._pick = pick if len(self._at) > 1 else lambda row: (pick(row),)

    def __call__(self, row: Any) -> list[Any]:
        # the hot loop of an export (32 columns, 10 of them times, per row): the cells
        # are picked in C (itemgetter on the driver's row), NULLs (most times) skipped
        cells = list(self._pick(row))
        for index in self._times:
            value = cells[index]
            if value is not None:
                cells[index] = _time(value)
        for index in self._flags:
            cells[index] = "true" if cells[index] else "false"
        for index, derive in self._derived:
            cells[index] = derive(cells[index])
        return cells


def _blank(columns: str) -> dict[str, Any]:
    return dict.fromkeys(_names(columns))


# the JSON items' columns, in their order: from the JSON form of a row of NULLs
INCIDENT_COLUMNS = list(flat(incident_json(_blank(_INCIDENT_COLUMNS), [])))
_REFS_AT = INCIDENT_COLUMNS.index("external_refs")
_INCIDENT_CELLS = _Cells(
    [column for column in INCIDENT_COLUMNS if column != "external_refs"],
    _names(_INCIDENT_COLUMNS),
)
_EVENT_JSON = list(event_json(_blank(_EVENT_COLUMNS)))
_LABELS_AT = _EVENT_JSON.index("labels")
_EVENT_HEAD = _Cells(_EVENT_JSON[:_LABELS_AT], _names(_EVENT_COLUMNS))
_EVENT_TAIL = _Cells(_EVENT_JSON[_LABELS_AT + 1 :], _names(_EVENT_COLUMNS))


def incident_cells(row: Any, refs: Sequence[Row]) -> list[Any]:
    cells = _INCIDENT_CELLS(row)
    tickets = orjson.dumps([_ref_json(_reader(ref)) for ref in refs]).decode() if refs else "[]"
    cells.insert(_REFS_AT, tickets)
    return cells


async def incident_table(
    chosen: IncidentFilter, page: int
) -> AsyncIterator[tuple[list[str], list[Any]]]:
    """(columns, rows of cells) ``page`` rows at a time, newest first, every match."""
    before: int | None = None
    while True:
        rows, refs = await incident_rows(replace(chosen, before=before, limit=page))
        if rows:
            cells = [incident_cells(row, refs.get(row["id"], ())) for row in rows]
            yield INCIDENT_COLUMNS, cells
        if len(rows) < page:
            return
        before = int(rows[-1]["id"])


class EventTable:
    """Events' columns: the labels are flattened into ``labels.<name>`` columns, those
    of the first row (as the JSON rows flattened give them)."""

    def __init__(self) -> None:
        self.columns: list[str] = []
        self._labels: list[str] = []

    def cells(self, row: Any) -> list[Any]:
        labels = as_json(row["labels"]) or {}
        named = flat(labels, "labels.") if labels else {}
        if not self.columns:
            self._labels = list(named)
            self.columns = [*_EVENT_JSON[:_LABELS_AT], *self._labels]
            self.columns += _EVENT_JSON[_LABELS_AT + 1 :]
        labelled = [named.get(column, "") for column in self._labels]
        return [*_EVENT_HEAD(row), *labelled, *_EVENT_TAIL(row)]

    async def pages(
        self, chosen: EventFilter, page: int
    ) -> AsyncIterator[tuple[list[str], list[Any]]]:
        before: int | None = None
        while True:
            rows = await event_rows(replace(chosen, before=before, limit=page))
            if rows:
                cells = [self.cells(row) for row in rows]
                yield self.columns, cells
            if len(rows) < page:
                return
            before = int(rows[-1]["id"])
