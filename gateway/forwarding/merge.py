"""A claim's rows as one delivery: the head row with the update and comment rows merged
onto it (notes in order, occurrences summed, each field's first and last value)."""

from __future__ import annotations

from typing import Any

from core.outbox import OutboxAction
from sinks.delivery import Delivery
from storage import Claim


def merge(claim: Claim, incident: dict[str, Any]) -> Delivery:
    """One delivery for a head row and the update/comment rows merged onto it."""
    notes: list[str] = []
    occurrences = 0
    changes: dict[str, list[Any]] = {}
    escalation: dict[str, Any] = {}
    answer: dict[str, Any] = {}
    for item in claim.items:
        payload = item.payload
        text = str(payload.get("text") or "").strip()
        if text:
            author = str(payload.get("author") or "").strip()
            notes.append(f"{author}:\n{text}" if author else text)
        occurrences += int(payload.get("occurrences") or 0)
        for name, pair in dict(payload.get("changes") or {}).items():
            old, new = pair
            changes[name] = [changes[name][0] if name in changes else old, new]
        escalation = dict(payload.get("escalation") or escalation)
        answer = dict(payload.get("answer") or answer)
    action = claim.head.action
    if action.coalescible and any(item.action is OutboxAction.UPDATE for item in claim.items):
        action = OutboxAction.UPDATE
    return Delivery(
        action=action,
        incident=incident,
        idempotency_key=claim.head.idempotency_key,
        notes=tuple(notes),
        occurrences=occurrences,
        changes=changes,
        escalation=escalation,
        merged=len(claim.items),
        answer=answer,
    )
