"""Answers to requesters: a mail that opens an incident is acknowledged to its sender.

The answer is an outbox row for an email sink, written in the transaction
that opens the incident, so it is sent once the incident exists and never
for one that was rolled back. Loop protection decides here, before anything
is queued: never answer automatic mail (RFC 3834: auto-replies, bounces,
lists, a null return path), never answer the gateway's own mail, and answer
one sender at most ``max_per_sender`` times per window, counted over every
replica (the rows are the count).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.outbox import OutboxAction
from core.records import Event, MailFacts, MailKind
from storage.atomic import QueryRunner
from storage.forwarding import queue
from storage.sql import Sql

ACKNOWLEDGE = OutboxAction.ACKNOWLEDGE


@dataclass(frozen=True, slots=True)
class AnswerPolicy:
    """How one mailbox answers: through which email sink, and how often per sender."""

    sink: str
    own_addresses: frozenset[str]  # the sink's From: (lower case): never answered
    own_domain: str  # right-hand side of the Message-IDs the gateway sends
    max_per_sender: int
    window: timedelta


def answerable(mail: MailFacts, policy: AnswerPolicy) -> bool:
    """Whether this mail may be answered at all (rate limit aside)."""
    # a reply that opens an incident (its own was closed) is answered like a new mail
    if mail.kind not in (MailKind.NEW, MailKind.REPLY) or mail.auto_submitted:
        return False
    sender = mail.sender.strip().lower()
    if not sender or "@" not in sender or sender in policy.own_addresses:
        return False
    # mail the gateway sent coming back (a forward, a relay loop): its own Message-ID
    own_id = f"@{policy.own_domain}".lower()
    return not (policy.own_domain and mail.message_id.strip("<> ").lower().endswith(own_id))


def _sender_tag(sender: str) -> str:
    return hashlib.sha256(sender.strip().lower().encode()).hexdigest()[:32]


class RequesterAnswers:
    """The answer policies of the mailboxes that acknowledge, by mailbox name."""

    def __init__(self, policies: Mapping[str, AnswerPolicy]) -> None:
        self._policies = dict(policies)

    def policy_for(self, event: Event) -> AnswerPolicy | None:
        if event.mail is None:
            return None
        policy = self._policies.get(event.source)
        if policy is None or not answerable(event.mail, policy):
            return None
        return policy

    async def queue_answer(
        self,
        connection: QueryRunner,
        sql: Sql,
        incident_id: int,
        event: Event,
        now: datetime,
    ) -> bool:
        """Queue the acknowledgement of ``event``'s mail if policy allows; True if queued."""
        policy = self.policy_for(event)
        mail = event.mail
        if policy is None or mail is None:
            return False
        tag = _sender_tag(mail.sender)
        rows = await connection.execute_query_dict(
            sql(
                "SELECT COUNT(*) AS n FROM outbox WHERE sink = ? AND action = ? "
                "AND created_at >= ? AND idempotency_key LIKE ?"
            ),
            [policy.sink, ACKNOWLEDGE.value, sql.time(now - policy.window), f"%:{tag}"],
        )
        if int(rows[0]["n"]) >= policy.max_per_sender:
            return False
        await queue(
            connection,
            sql,
            incident_id=incident_id,
            sinks=(policy.sink,),
            action=ACKNOWLEDGE,
            cause=tag,
            payload={
                "answer": {
                    "to": mail.sender.strip().lower(),
                    "in_reply_to": mail.message_id,
                    "references": [*mail.references[-10:], mail.message_id],
                    "subject": mail.subject,
                }
            },
            now=now,
        )
        return True
