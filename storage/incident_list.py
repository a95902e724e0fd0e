"""The console's incident list: more filters than the API's, a choice of order,
keyset paging on that order, and counts per status and per priority.

Paging is by keyset (the last row's sort value and id), never OFFSET, so the
hundredth page costs what the first does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.database import reads_database
from storage.views import _INCIDENT_COLUMNS, _query, _refs_by_incident, incident_json

# order name -> (column, ascending); ties are broken by id in the same direction, so
# an index on (column, id) gives the order without sorting the table
SORTS: dict[str, tuple[str, bool]] = {
    "newest": ("id", False),
    "oldest": ("id", True),
    "priority": ("priority", True),
}
# open: not yet resolved; pending waits on its requester and is open too
OPEN_STATUSES = ("new", "acknowledged", "pending")


@dataclass(frozen=True, slots=True)
class ListQuery:
    status: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    type: str | None = None
    service: str | None = None
    assignment_group: str | None = None
    source: str | None = None
    major: bool | None = None
    text: str | None = None
    sort: str = "newest"
    after: tuple[str, int] | None = None  # the last row's (sort value, id)
    limit: int = 50


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(query: ListQuery, postgres: bool) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    values: list[Any] = []
    for column, chosen in (("status", query.status), ("priority", query.priority)):
        if chosen:
            where.append(f"{column} IN ({', '.join('?' for _ in chosen)})")
            values.extend(chosen)
    for column, value in (
        ("type", query.type),
        ("service", query.service),
        ("assignment_group", query.assignment_group),
    ):
        if value:
            where.append(f"{column} = ?")
            values.append(value)
    if query.major is not None:
        where.append("major = ?")
        values.append(query.major)
    if query.source:
        where.append(
            "EXISTS (SELECT 1 FROM events WHERE events.incident_id = incidents.id "
            "AND events.source = ?)"
        )
        values.append(query.source)
    if query.text:
        # case-insensitive on both engines (SQLite's LIKE is, for ASCII)
        where.append(f"title {'ILIKE' if postgres else 'LIKE'} ? ESCAPE '\\'")
        values.append(_like(query.text))
    return where, values


def _after(query: ListQuery) -> tuple[str, list[Any]]:
    column, ascending = SORTS[query.sort]
    assert query.after is not None
    value, last_id = query.after
    if column == "id":
        return ("id > ?" if ascending else "id < ?"), [last_id]
    bound = ">" if ascending else "<"
    return f"({column} {bound} ? OR ({column} = ? AND id {bound} ?))", [value, value, last_id]


@reads_database("reading incidents")
async def list_page(query: ListQuery, postgres: bool) -> tuple[list[dict[str, Any]], str | None]:
    """A page of incidents and the cursor of the next one (None on the last page)."""
    where, values = _conditions(query, postgres)
    if query.after is not None:
        condition, more = _after(query)
        where.append(condition)
        values.extend(more)
    column, ascending = SORTS[query.sort]
    direction = "ASC" if ascending else "DESC"
    order = f"{column} {direction}" + (f", id {direction}" if column != "id" else "")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = await _query(
        f"SELECT {_INCIDENT_COLUMNS} FROM incidents{clause} ORDER BY {order} LIMIT ?",
        [*values, query.limit + 1],
    )
    more_rows = len(rows) > query.limit
    rows = rows[: query.limit]
    refs = await _refs_by_incident([int(row["id"]) for row in rows])
    items = [incident_json(row, refs.get(int(row["id"]), [])) for row in rows]
    cursor = None
    if more_rows and rows:
        last = rows[-1]
        cursor = f"{last[column]}~{last['id']}"
    return items, cursor


def read_cursor(text: str | None) -> tuple[str, int] | None:
    """``value~id`` as the list wrote it; anything else starts from the top."""
    if not text or "~" not in text:
        return None
    value, _, last = text.rpartition("~")
    if not last.isascii() or not last.isdigit() or len(last) > 18:
        return None
    return value, int(last)


@reads_database("counting incidents")
async def counts() -> dict[str, dict[str, int]]:
    """Incidents per status, and open incidents per priority."""
    by_status = await _query("SELECT status, COUNT(*) AS n FROM incidents GROUP BY status", [])
    by_priority = await _query(
        "SELECT priority, COUNT(*) AS n FROM incidents "
        f"WHERE status IN ({', '.join('?' for _ in OPEN_STATUSES)}) GROUP BY priority",
        list(OPEN_STATUSES),
    )
    return {
        "status": {str(row["status"]): int(row["n"]) for row in by_status},
        "priority": {str(row["priority"]): int(row["n"]) for row in by_priority},
    }


@reads_database("reading incidents")
async def ids_matching(query: ListQuery, postgres: bool, cap: int) -> list[int]:
    """Ids of the incidents a filter selects (a bulk action by filter), oldest first."""
    where, values = _conditions(query, postgres)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = await _query(f"SELECT id FROM incidents{clause} ORDER BY id LIMIT ?", [*values, cap])
    return [int(row["id"]) for row in rows]
