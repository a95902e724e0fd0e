"""PagerDuty Events API v2: trigger, acknowledge, resolve; dedup_key = the incident key.

The dedup_key makes every call idempotent on PagerDuty's side, so no ticket
needs to be tracked or looked up. Events carry no comments: comments are
acknowledged as delivered without a call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import aiohttp

from core.outbox import OutboxAction, TicketRef
from sinks.base import HttpSink
from sinks.config import PagerDutySinkConfig
from sinks.delivery import Delivered, Delivery
from sinks.templates import Templates


class PagerDutySink(HttpSink):
    kind: ClassVar[str] = "pagerduty"
    TEMPLATES: ClassVar[Mapping[str, str]] = {"summary": "pagerduty_summary.txt.j2"}

    def __init__(
        self, config: PagerDutySinkConfig, session: aiohttp.ClientSession, templates: Templates
    ) -> None:
        super().__init__(config.name, session, templates, config.timeout_seconds)
        self._config = config
        self._routing_key = config.routing_key.resolve().get_secret_value()

    def _event_action(self, delivery: Delivery) -> str | None:
        action = delivery.action
        if action in (OutboxAction.RESOLVE, OutboxAction.CLOSE):
            return "resolve"
        if action in (OutboxAction.CREATE, OutboxAction.REOPEN, OutboxAction.ESCALATE):
            return "trigger"
        status = delivery.changes.get("status")
        if status and status[1] == "acknowledged":
            return "acknowledge"
        if "priority" in delivery.changes:
            return "trigger"  # a trigger on the same dedup_key updates the severity
        return None

    async def apply(self, delivery: Delivery, ticket: TicketRef | None) -> Delivered:
        event_action = self._event_action(delivery)
        if event_action is None:
            return Delivered(response="not sent: PagerDuty events carry no comments")
        incident = delivery.incident
        body: dict[str, object] = {
            "routing_key": self._routing_key,
            "event_action": event_action,
            "dedup_key": delivery.key,
        }
        if event_action == "trigger":
            severity = self._config.severity_map[str(incident["priority"])]
            if delivery.action is OutboxAction.ESCALATE:
                severity = "critical"
            body["payload"] = {
                "summary": self._templates.render_line("summary", delivery.context())[:1024],
                "source": str(incident.get("ci") or incident.get("service") or "intake-gateway"),
                "severity": severity,
                "component": str(incident.get("ci") or ""),
                "group": str(incident.get("service") or ""),
                "class": str(incident.get("category") or ""),
                "custom_details": {"incident": delivery.key, "priority": incident["priority"]},
            }
        answer = await self._call("POST", self._config.url, json=body)
        return Delivered(response=f"{event_action}: {answer.excerpt[:200]}")
