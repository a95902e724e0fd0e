"""Status webhooks back from ticket systems: Jira, Zammad, and a generic form.

``POST /hooks/jira/{sink}``, ``/hooks/zammad/{sink}``, ``/hooks/generic/{sink}``,
where ``sink`` names a configured sink with an ``inbound`` section. Each
handler only authenticates, reads the system's payload into an
:class:`ExternalChange`, and hands it to storage.

Answers: 200 with what changed; 202 when the payload carries nothing to act
on; 404 for an unknown sink or ticket; 401 for bad proof; 400 for a body
that is not what the system sends; 503 when the database is down (the
system retries).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web
from pydantic import SecretStr

from core.errors import ParseError, StorageUnavailable
from gateway.api.bodies import read_body
from gateway.api.jsonbody import json_error, json_response
from parsers.jsondoc import decode_json
from rules.decision import IncidentStatus
from sinks.config import InboundConfig, SinkConfig
from storage import ExternalChange, SyncStore

log = structlog.get_logger(__name__)

# A Jira issue event with its changelog is tens of kilobytes; this bounds what is read.
_MAX_BODY_BYTES = 4 << 20
_KEY = re.compile(r"\bINC-\d{6,}\b")
_MEANING: Mapping[str, IncidentStatus | None] = {
    "acknowledged": IncidentStatus.ACKNOWLEDGED,
    "resolved": IncidentStatus.RESOLVED,
    "closed": IncidentStatus.CLOSED,
    "reopened": IncidentStatus.NEW,
    "ignore": None,
}
_JIRA_CATEGORIES = {"done": "resolved", "indeterminate": "acknowledged", "new": "reopened"}
_ZAMMAD_STATES = {"open": "acknowledged", "closed": "resolved", "merged": "closed"}


class BadPayload(ValueError):
    """The body is not what the system sends."""


def _json(error: str, message: str, status: int) -> web.Response:
    return json_error(status, error, message)


@dataclass(frozen=True, slots=True)
class InboundSink:
    name: str
    kind: str
    config: InboundConfig
    token: SecretStr | None
    secret: SecretStr | None

    def meaning(self, name: str, default: str | None) -> IncidentStatus | None:
        chosen = self.config.status_map.get(name, default)
        return _MEANING.get(chosen) if chosen else None


def _incident_key(*texts: object) -> str | None:
    for text in texts:
        found = _KEY.search(str(text or ""))
        if found:
            return found.group(0)
    return None


def jira_change(sink: InboundSink, body: Mapping[str, Any]) -> ExternalChange:
    issue = body.get("issue")
    if not isinstance(issue, dict) or not issue.get("key"):
        raise BadPayload("a Jira webhook carries issue.key")
    fields = issue.get("fields") or {}
    items = (body.get("changelog") or {}).get("items") or []
    changed = {str(item.get("field")): item for item in items if isinstance(item, dict)}
    status = None
    if "status" in changed:  # act on transitions, not on every edit
        name = str(changed["status"].get("toString") or "")
        category = ((fields.get("status") or {}).get("statusCategory") or {}).get("key")
        status = sink.meaning(name, _JIRA_CATEGORIES.get(str(category)))
    assignee = None
    if "assignee" in changed:
        assignee = changed["assignee"].get("toString") or None
    user = body.get("user") or {}
    return ExternalChange(
        sink=sink.name,
        ticket_id=str(issue["key"]),
        incident_key=_incident_key(*(fields.get("labels") or []), fields.get("summary")),
        status=status,
        assignee=assignee,
        author=str(user.get("displayName") or user.get("name") or "jira"),
    )


def zammad_change(sink: InboundSink, body: Mapping[str, Any]) -> ExternalChange:
    ticket = body.get("ticket")
    if not isinstance(ticket, dict) or "id" not in ticket:
        raise BadPayload("a Zammad webhook carries ticket.id")
    state = ticket.get("state")
    state_name = str(state.get("name") if isinstance(state, dict) else state or "")
    owner = ticket.get("owner") or {}
    owner_name = " ".join(
        str(owner.get(part) or "") for part in ("firstname", "lastname")
    ).strip() or str(owner.get("login") or "")
    updated_by = ticket.get("updated_by") or {}
    return ExternalChange(
        sink=sink.name,
        ticket_id=str(ticket["id"]),
        incident_key=_incident_key(ticket.get("title")),
        status=sink.meaning(state_name, _ZAMMAD_STATES.get(state_name)),
        assignee=owner_name if owner_name and owner_name != "-" else None,
        author=str(updated_by.get("login") or "zammad"),
    )


def generic_change(sink: InboundSink, body: Mapping[str, Any]) -> ExternalChange:
    key = body.get("incident")
    ticket = body.get("ticket_id")
    if not key and not ticket:
        raise BadPayload("give incident (INC-000123) or ticket_id")
    status_name = str(body.get("status") or "")
    if status_name and status_name not in _MEANING and status_name not in sink.config.status_map:
        raise BadPayload(f"status must be one of {', '.join(sorted(_MEANING))}")
    return ExternalChange(
        sink=sink.name,
        ticket_id=str(ticket) if ticket else None,
        incident_key=str(key) if key else None,
        status=sink.meaning(status_name, status_name) if status_name else None,
        assignee=str(body["assignee"]) if body.get("assignee") else None,
        author=str(body.get("author") or "external"),
        comment=str(body.get("comment") or "")[:10_000],
    )


Reader = Callable[[InboundSink, Mapping[str, Any]], ExternalChange]
READERS: Mapping[str, tuple[Reader, str | None]] = {
    # kind -> (payload reader, the sink kind it must belong to)
    "jira": (jira_change, "jira"),
    "zammad": (zammad_change, "zammad"),
    "generic": (generic_change, None),
}


def _proved(sink: InboundSink, request: web.Request, body: bytes) -> bool:
    if sink.token is not None:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        given = given if scheme.lower() == "bearer" else request.query.get("token", "")
        if given and hmac.compare_digest(given.encode(), sink.token.get_secret_value().encode()):
            return True
    if sink.secret is not None:
        headers = request.headers
        header = headers.get("X-Hub-Signature") or headers.get("X-Signature") or ""
        algorithm, _, given = header.partition("=")
        digest = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}.get(algorithm.lower())
        if digest is not None and given:
            key = sink.secret.get_secret_value().encode()
            expected = hmac.new(key, body, digest).hexdigest()
            return hmac.compare_digest(given.lower().encode(), expected.encode())
    return False


def inbound_sinks(sinks: Sequence[SinkConfig]) -> dict[str, InboundSink]:
    """The sinks with an inbound section, their secrets resolved (ValueError if one is
    missing)."""
    return {
        sink.name: InboundSink(
            name=sink.name,
            kind=sink.kind,
            config=sink.inbound,
            token=sink.inbound.token.resolve() if sink.inbound.token else None,
            secret=sink.inbound.secret.resolve() if sink.inbound.secret else None,
        )
        for sink in sinks
        if sink.inbound is not None
    }


class InboundHooks:
    def __init__(
        self, sinks: Sequence[SinkConfig], store: SyncStore, clock: Callable[[], datetime]
    ) -> None:
        self._sinks = inbound_sinks(sinks)
        self._store = store
        self._clock = clock

    def replace(self, sinks: Mapping[str, InboundSink]) -> None:
        """The hooks of a reloaded config's sinks."""
        self._sinks = dict(sinks)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/hooks/{kind}/{sink}", self.receive)]

    async def receive(self, request: web.Request) -> web.Response:
        reader_and_kind = READERS.get(request.match_info["kind"])
        sink = self._sinks.get(request.match_info["sink"])
        if reader_and_kind is None or sink is None:
            return _json("not_found", "no such inbound hook", 404)
        reader, wanted_kind = reader_and_kind
        if wanted_kind is not None and sink.kind != wanted_kind:
            return _json("not_found", f"sink {sink.name} is not a {wanted_kind} sink", 404)
        body = await read_body(request, _MAX_BODY_BYTES)
        if not _proved(sink, request, body):
            return _json("unauthorized", "send the bearer token or a valid signature", 401)
        try:
            payload = decode_json(body)
            if not isinstance(payload, dict):
                raise BadPayload("the body must be a JSON object")
            change = reader(sink, payload)
        except (ParseError, BadPayload) as exc:
            return _json("invalid_body", str(exc), 400)
        if change.status is None and not change.assignee:
            return json_response({"status": "ignored"}, status=202)
        try:
            result = await self._store.apply(change, self._clock())
        except StorageUnavailable as exc:
            return _json("unavailable", str(exc), 503)
        if not result.found:
            return _json("unknown_ticket", "no incident has this ticket or key", 404)
        log.info(
            "inbound_change",
            sink=sink.name,
            incident_key=result.incident_key,
            changed=list(result.changed),
        )
        return json_response({"incident": result.incident_key, "changed": list(result.changed)})
