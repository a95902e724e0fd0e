"""The mailboxes' answer policies, from the config (see storage.answers)."""

from __future__ import annotations

from datetime import timedelta

from gateway.config import GatewayConfig
from gateway.sinkconfig import EmailSinkConfig
from storage.answers import AnswerPolicy, RequesterAnswers


def requester_answers(config: GatewayConfig) -> RequesterAnswers | None:
    """None when no mailbox answers (check-config made sure each names an email sink)."""
    sinks = {sink.name: sink for sink in config.sinks if isinstance(sink, EmailSinkConfig)}
    policies: dict[str, AnswerPolicy] = {}
    for mailbox in config.mailboxes:
        answer = mailbox.acknowledge
        if answer is None or answer.sink not in sinks:
            continue
        sink = sinks[answer.sink]
        policies[mailbox.name] = AnswerPolicy(
            sink=sink.name,
            own_addresses=frozenset({sink.from_address.strip().lower()}),
            own_domain=sink.message_id_domain,
            max_per_sender=answer.max_per_sender,
            window=timedelta(seconds=answer.window_seconds),
        )
    return RequesterAnswers(policies) if policies else None
