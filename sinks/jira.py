"""Jira REST v2/v3: create an issue, comment, change priority, transition.

The incident key is stored as a label (``intake-INC-000123``) or in a custom
field, and a JQL search on it finds the issue again after an uncertain try.
"""

from __future__ import annotations

from typing import Any, ClassVar

import aiohttp

from core.outbox import OutboxAction, TicketRef
from sinks.base import HttpSink, lifecycle_target
from sinks.config import JiraSinkConfig
from sinks.delivery import Delivered, Delivery, DeliveryFailed
from sinks.http import basic_auth
from sinks.templates import Templates


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document (v3 wants ADF for rich-text fields)."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": block}]}
        for block in text.split("\n\n")
        if block.strip()
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


class JiraSink(HttpSink):
    kind: ClassVar[str] = "jira"
    tracks_tickets: ClassVar[bool] = True
    can_lookup: ClassVar[bool] = True

    def __init__(
        self, config: JiraSinkConfig, session: aiohttp.ClientSession, templates: Templates
    ) -> None:
        super().__init__(config.name, session, templates, config.timeout_seconds)
        self._config = config
        self._api = f"{config.url.rstrip('/')}/rest/api/{config.api_version}"
        token = config.token.resolve().get_secret_value()
        self._headers = {
            "Authorization": basic_auth(config.email, token) if config.email else f"Bearer {token}",
            "Accept": "application/json",
        }

    def _text(self, text: str) -> Any:
        return adf(text) if self._config.api_version == 3 else text

    def _label(self, key: str) -> str:
        return f"{self._config.label_prefix}{key}"

    async def _request(self, method: str, path: str, **options: Any) -> Any:
        answer = await self._call(method, f"{self._api}{path}", headers=self._headers, **options)
        return answer.json()

    def _ticket(self, key: str) -> TicketRef:
        return TicketRef(key, f"{self._config.url.rstrip('/')}/browse/{key}")

    async def create(self, delivery: Delivery) -> Delivered:
        context = delivery.context()
        incident = delivery.incident
        fields: dict[str, Any] = {
            "project": {"key": self._config.project},
            "issuetype": {"name": self._config.issue_type},
            "summary": self._templates.render_line("summary", context)[:255],
            "description": self._text(self._templates.render("description", context)),
            "priority": {"name": self._config.priority_map[str(incident["priority"])]},
            "labels": [*self._config.labels, self._label(delivery.key)],
        }
        if self._config.correlation_field:
            fields[self._config.correlation_field] = delivery.key
        created = await self._request("POST", "/issue", json={"fields": fields})
        return Delivered(
            ticket=self._ticket(str(created["key"])), response=f"created {created['key']}"
        )

    async def lookup(self, delivery: Delivery) -> TicketRef | None:
        if self._config.correlation_field:
            number = self._config.correlation_field.removeprefix("customfield_")
            jql = f'cf[{number}] ~ "{delivery.key}"'
        else:
            jql = f'labels = "{self._label(delivery.key)}"'
        found = await self._request(
            "GET", "/search", params={"jql": jql, "maxResults": "1", "fields": "key"}
        )
        issues = found.get("issues") or [] if isinstance(found, dict) else []
        return self._ticket(str(issues[0]["key"])) if issues else None

    async def apply(self, delivery: Delivery, ticket: TicketRef | None) -> Delivered:
        assert ticket is not None, "Jira tracks tickets: the dispatcher passes one"
        key = ticket.ticket_id
        done: list[str] = []
        if "priority" in delivery.changes:
            priority = self._config.priority_map[str(delivery.incident["priority"])]
            await self._request(
                "PUT", f"/issue/{key}", json={"fields": {"priority": {"name": priority}}}
            )
            done.append("priority")
        transition = self._transition_for(delivery)
        if transition:
            await self._transition(key, transition, delivery.action)
            done.append(f"transition {transition}")
        text = self._templates.render("comment", delivery.context())
        if text:
            await self._request("POST", f"/issue/{key}/comment", json={"body": self._text(text)})
            done.append("comment")
        return Delivered(response=f"{key}: {', '.join(done) or 'nothing to change'}")

    async def _already_there(self, key: str, action: OutboxAction) -> bool:
        issue = await self._request("GET", f"/issue/{key}", params={"fields": "status"})
        status = issue.get("fields", {}).get("status", {}) if isinstance(issue, dict) else {}
        is_done = status.get("statusCategory", {}).get("key") == "done"
        return is_done if action is not OutboxAction.REOPEN else not is_done

    def _transition_for(self, delivery: Delivery) -> str | None:
        config = self._config
        return lifecycle_target(
            delivery,
            resolve=config.resolve_transition,
            close=config.resolve_transition,
            reopen=config.reopen_transition,
            acknowledge=config.acknowledge_transition,
        )

    async def _transition(self, key: str, name: str, action: OutboxAction) -> None:
        found = await self._request("GET", f"/issue/{key}/transitions")
        transitions = found.get("transitions", []) if isinstance(found, dict) else []
        wanted = name.casefold()
        for item in transitions:
            target = str(item.get("to", {}).get("name", ""))
            if wanted in (str(item.get("name", "")).casefold(), target.casefold()):
                body = {"transition": {"id": item["id"]}}
                await self._request("POST", f"/issue/{key}/transitions", json=body)
                return
        if await self._already_there(key, action):
            return  # a retry after a transition that did go through
        available = ", ".join(str(item.get("name")) for item in transitions) or "none"
        raise DeliveryFailed(
            f"{key} has no transition '{name}' (available: {available})",
            retryable=False,
            response=str(found)[:2000],
        )
