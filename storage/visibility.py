"""Which timeline entries the requester sees on the status page.

Status changes are public; a comment is public when a person wrote it to
the requester's side (a mail reply, a portal comment), never an alert's
text. Everything else (operator notes, escalations, joined events, raw
alert data, known-error workarounds) stays internal.
"""

from __future__ import annotations

PUBLIC = "public"
INTERNAL = "internal"

PUBLIC_KINDS = frozenset(
    {
        "opened",
        "acknowledged",
        "pending",
        "resumed",
        "resolved",
        "reopened",
        "closed",
        "merged",  # closed as a duplicate: the requester learns where the work goes on
        "priority_raised",
        "rated",
    }
)


def visibility_of(kind: str, *, from_person: bool = False) -> str:
    """The visibility of a new entry of ``kind``; ``from_person``: a comment a person wrote
    to the requester's side (mail, portal)."""
    if kind in PUBLIC_KINDS or (kind == "comment" and from_person):
        return PUBLIC
    return INTERNAL
