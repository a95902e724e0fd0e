"""ServiceNow Table API on ``incident``: create, work notes, state; correlation_id = key."""

from __future__ import annotations

from typing import Any, ClassVar

import aiohttp

from core.outbox import OutboxAction, TicketRef
from sinks.base import HttpSink, target_state
from sinks.config import ServiceNowSinkConfig
from sinks.delivery import Delivered, Delivery
from sinks.http import basic_auth
from sinks.templates import Templates


def _scale(value: Any) -> str:
    """The gateway's impact/urgency run 1..4, ServiceNow's 1..3."""
    return str(min(int(value), 3))


class ServiceNowSink(HttpSink):
    kind: ClassVar[str] = "servicenow"
    tracks_tickets: ClassVar[bool] = True
    can_lookup: ClassVar[bool] = True

    def __init__(
        self, config: ServiceNowSinkConfig, session: aiohttp.ClientSession, templates: Templates
    ) -> None:
        super().__init__(config.name, session, templates, config.timeout_seconds)
        self._config = config
        self._base = config.url.rstrip("/")
        self._table = f"{self._base}/api/now/table/incident"
        password = config.password.resolve().get_secret_value()
        self._headers = {
            "Authorization": basic_auth(config.username, password),
            "Accept": "application/json",
        }

    async def _request(self, method: str, url: str, **options: Any) -> Any:
        answer = await self._call(method, url, headers=self._headers, **options)
        found = answer.json()
        return found.get("result") if isinstance(found, dict) else None

    def _ticket(self, sys_id: str) -> TicketRef:
        return TicketRef(sys_id, f"{self._base}/nav_to.do?uri=incident.do?sys_id={sys_id}")

    async def create(self, delivery: Delivery) -> Delivered:
        context = delivery.context()
        incident = delivery.incident
        body: dict[str, Any] = {
            "short_description": self._templates.render_line("summary", context)[:160],
            "description": self._templates.render("description", context),
            "impact": _scale(incident["impact"]),
            "urgency": _scale(incident["urgency"]),
            "correlation_id": delivery.key,
            "correlation_display": "intake-gateway",
        }
        if incident.get("category"):
            body["category"] = incident["category"]
        if self._config.assignment_group:
            body["assignment_group"] = self._config.assignment_group
        if self._config.caller_id:
            body["caller_id"] = self._config.caller_id
        result = await self._request("POST", self._table, json=body)
        sys_id = str(result["sys_id"])
        return Delivered(
            ticket=self._ticket(sys_id), response=f"created {result.get('number', sys_id)}"
        )

    async def lookup(self, delivery: Delivery) -> TicketRef | None:
        params = {
            "sysparm_query": f"correlation_id={delivery.key}",
            "sysparm_limit": "1",
            "sysparm_fields": "sys_id,number",
        }
        result = await self._request("GET", self._table, params=params)
        return self._ticket(str(result[0]["sys_id"])) if result else None

    async def apply(self, delivery: Delivery, ticket: TicketRef | None) -> Delivered:
        assert ticket is not None, "ServiceNow tracks tickets: the dispatcher passes one"
        body: dict[str, Any] = {}
        text = self._templates.render("comment", delivery.context())
        if text:
            body["work_notes"] = text
        if "priority" in delivery.changes:
            body["impact"] = _scale(delivery.incident["impact"])
            body["urgency"] = _scale(delivery.incident["urgency"])
        state = target_state(delivery, self._config)
        if state is not None:
            body["state"] = state
        if delivery.action is OutboxAction.RESOLVE:
            body["close_code"] = self._config.close_code
            body["close_notes"] = text or "Resolved by intake-gateway"
        if not body:
            return Delivered(response=f"{ticket.ticket_id}: nothing to change")
        await self._request("PATCH", f"{self._table}/{ticket.ticket_id}", json=body)
        return Delivered(response=f"{ticket.ticket_id}: {', '.join(sorted(body))}")
