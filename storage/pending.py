"""Leaving ``pending`` (waiting on the requester, SLA clocks stopped).

Two ways out share the clock arithmetic here: a person acknowledges or resolves
(``storage.actions``), or the requester answers (a mail reply or a status page
comment judged by the pipeline), which puts the incident back to the status work
had reached: acknowledged, or new if nobody took it in hand yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.records import Event, MailKind
from rules.calendars import Calendar
from rules.decision import IncidentStatus
from storage.atomic import QueryRunner
from storage.sql import Sql, as_time
from storage.timeline import note

RESUMED = "resumed"  # the timeline kind of a wait the requester's answer ended
_PERSON_MAIL = (MailKind.NEW, MailKind.REPLY)

# (priority, service, the calendar name stored with the due times) -> the SLA's calendar
CalendarOf = Callable[[str, str, str | None], Calendar]


@dataclass(frozen=True, slots=True)
class Resumed:
    """Due times after a wait, and the service seconds the incident waited."""

    due: dict[str, datetime]  # column -> new due time (only those that moved)
    paused_seconds: float


def resume_clocks(
    calendar: Calendar,
    since: datetime,
    now: datetime,
    due: dict[str, datetime | None],
    acknowledged: bool,
) -> Resumed:
    """Each due time still ahead when the wait began moves on by the service time
    the incident waited (``due``: response_due and resolution_due as stored)."""
    moved: dict[str, datetime] = {}
    for clock, at in due.items():
        if at is None or at <= since:
            continue  # no target, or breached before the wait began
        if clock == "response_due" and acknowledged:
            continue  # answered already: that clock had stopped
        moved[clock] = calendar.add(now, calendar.elapsed(since, at))
    return Resumed(moved, calendar.elapsed(since, now).total_seconds())


def from_requester(event: Event, requester: str) -> bool:
    """A person's mail (or portal comment) sent by the incident's own requester: not an
    operator on the thread, not monitoring, not an auto-reply or a bounce."""
    mail = event.mail
    if mail is None or mail.kind not in _PERSON_MAIL or not requester:
        return False
    return mail.sender.strip().lower() == requester.strip().lower()


async def end_wait(
    connection: QueryRunner,
    sql: Sql,
    incident_id: int,
    event: Event,
    now: datetime,
    calendar: CalendarOf,
) -> IncidentStatus | None:
    """The requester's comment on a pending incident ends the wait, in the caller's
    transaction (the incident row is locked there); the status it went back to, or
    None when the comment leaves it waiting."""
    rows = await connection.execute_query_dict(
        sql(
            "SELECT status, requester, priority, service, pending_since, acknowledged_at, "
            f"response_due, resolution_due, sla_calendar FROM incidents WHERE id = ?"
            f"{sql.for_update()}"
        ),
        [incident_id],
    )
    if not rows or rows[0]["status"] != IncidentStatus.PENDING.value:
        return None
    row = rows[0]
    if not from_requester(event, str(row["requester"] or "")):
        return None
    acknowledged = as_time(row["acknowledged_at"]) is not None
    target = IncidentStatus.ACKNOWLEDGED if acknowledged else IncidentStatus.NEW
    due = {name: as_time(row[name]) for name in ("response_due", "resolution_due")}
    resumed = resume_clocks(
        calendar(str(row["priority"]), str(row["service"] or ""), row["sla_calendar"]),
        as_time(row["pending_since"]) or now,
        now,
        due,
        acknowledged,
    )
    assignments = ["status = ?", "pending_since = NULL", "updated_at = ?"]
    values: list[Any] = [target.value, sql.time(now)]
    for column, at in resumed.due.items():
        assignments.append(f"{column} = ?")
        values.append(sql.time(at))
    await connection.execute_query(
        sql(f"UPDATE incidents SET {', '.join(assignments)} WHERE id = ?"),
        [*values, incident_id],
    )
    await note(
        connection,
        sql,
        incident_id,
        now,
        RESUMED,
        f"the requester answered: back to {target.value}",
        author=event.mail.sender if event.mail else "gateway",
        data={
            "from": IncidentStatus.PENDING.value,
            "to": target.value,
            "paused_seconds": resumed.paused_seconds,
        },
    )
    return target
