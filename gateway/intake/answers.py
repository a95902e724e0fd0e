"""The mailboxes' answer policies, from the config (see storage.answers)."""

from __future__ import annotations

from datetime import timedelta

from gateway.config.model import GatewayConfig
from gateway.portal.intake import SOURCE as PORTAL_SOURCE
from sinks.config import EmailSinkConfig
from storage import AnswerPolicy, RequesterAnswers


def requester_answers(config: GatewayConfig) -> RequesterAnswers | None:
    """None when no mailbox answers (check-config made sure each names an email sink)."""
    sinks = {sink.name: sink for sink in config.sinks if isinstance(sink, EmailSinkConfig)}
    answering = [(mailbox.name, mailbox.acknowledge) for mailbox in config.mailboxes]
    if config.portal.enabled:  # the portal's requests are answered like mail
        answering.append((PORTAL_SOURCE, config.portal.form.acknowledge))
    policies: dict[str, AnswerPolicy] = {}
    for source, answer in answering:
        if answer is None or answer.sink not in sinks:
            continue
        sink = sinks[answer.sink]
        policies[source] = AnswerPolicy(
            sink=sink.name,
            own_addresses=frozenset({sink.from_address.strip().lower()}),
            own_domain=sink.message_id_domain,
            max_per_sender=answer.max_per_sender,
            window=timedelta(seconds=answer.window_seconds),
        )
    return RequesterAnswers(policies) if policies else None
