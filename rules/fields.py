"""Names of the fields rules can read, and fast getters for them.

Top-level names are the event's fields (``source``, ``resource``...) and the
incident fields rules set (``service``, ``category``...); ``labels.X``,
``annotations.X`` and ``mail.X`` reach inside. A name outside this list can
never have a value, so using it is a load error.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from rules.draft import Draft

Getter = Callable[[Draft], str | None]

_EVENT_FIELDS: dict[str, Getter] = {
    "source": lambda d: d.event.source,
    "kind": lambda d: d.event.kind,
    "name": lambda d: d.event.name,
    "resource": lambda d: d.event.resource,
    "summary": lambda d: d.event.summary,
    "description": lambda d: d.event.description,
    "fingerprint": lambda d: d.event.fingerprint,
    "url": lambda d: d.event.url,
    "group_key": lambda d: d.event.group_key,
    "severity": lambda d: d.event.severity.value,
    "status": lambda d: d.event.status.value,
}

_DRAFT_FIELDS: dict[str, Getter] = {
    "service": lambda d: d.service,
    "ci": lambda d: d.ci,
    "environment": lambda d: d.environment,
    "title": lambda d: d.title,
    "category": lambda d: d.category,
    "assignment_group": lambda d: d.assignment_group,
    "owner": lambda d: d.owner,
    "requester": lambda d: d.requester,
    "type": lambda d: d.type.value,
    "impact": lambda d: str(d.impact),
    "urgency": lambda d: str(d.urgency),
}

MAIL_FIELDS = ("kind", "message_id", "subject", "sender", "sender_name", "body", "recipients")

TOP_LEVEL = {**_EVENT_FIELDS, **_DRAFT_FIELDS}
MAP_FIELDS = ("labels", "annotations")


def mail_field_getter(attr: str) -> Getter:
    def get(draft: Draft) -> str | None:
        mail = draft.event.mail
        if mail is None:
            return None
        value = getattr(mail, attr)
        return ",".join(value) if isinstance(value, tuple) else str(value)

    return get


def _map_getter(which: str, key: str) -> Getter:
    if which == "labels":
        return lambda d: d.event.labels.get(key)
    return lambda d: d.event.annotations.get(key)


def field_getter(name: str) -> Getter:
    """The getter for ``name``; raises ValueError with a hint when it can never exist."""
    getter = TOP_LEVEL.get(name)
    if getter is not None:
        return getter
    head, _, rest = name.partition(".")
    if head in MAP_FIELDS and rest:
        return _map_getter(head, rest)
    if head == "mail" and rest in MAIL_FIELDS:
        return mail_field_getter(rest)
    raise ValueError(unknown_field_message(name))


def label_or_field_getter(name: str) -> Getter:
    """Silence and inhibit matcher names: a field name, ``labels.X``, or a bare label name."""
    if name in TOP_LEVEL or "." in name:
        return field_getter(name)
    return _map_getter("labels", name)


def unknown_field_message(name: str) -> str:
    known = [*TOP_LEVEL, *(f"mail.{attr}" for attr in MAIL_FIELDS), "labels.", "annotations."]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    return (
        f'"{name}" is not a field an event can have{hint}; use an event field such as '
        '"resource", or "labels.NAME", "annotations.NAME", "mail.subject"'
    )
