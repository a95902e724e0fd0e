"""``POST /webhooks/{integration}``: authenticate, bound, validate, commit, answer.

The answer follows what senders rely on: 202 only after the raw body is
committed; 503 with Retry-After when the database cannot take it (so
Alertmanager and friends retry); 4xx with a JSON reason only for requests
that will never succeed. A repeated delivery is acknowledged and changes
nothing. The body is validated here, never correlated or forwarded: alert
groups by their parser's tally (a pass over the decoded document; the
pipeline makes the events later), other kinds by parsing, whose events are
handed to the pipeline so they are not parsed twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from core.errors import DataRejected, ParseError, SignatureReplayed, StorageUnavailable
from core.records import Channel, Event, EventStatus, IntakeRecord
from gateway.api.bodies import RefusedBody, read_body
from gateway.api.jsonbody import json_error, json_response
from gateway.config.model import IntegrationConfig
from gateway.intake.auth import Authenticator
from gateway.intake.ratelimit import TokenBucket
from gateway.metrics import Metrics
from parsers.base import Parser, Tally
from storage import IntakeWriter, NewIntake, RecordStore, SignatureClaim

log = structlog.get_logger(__name__)

_JSON_TYPES = ("application/json",)
_FORM_TYPES = ("application/x-www-form-urlencoded",)
# Which content types each parser kind reads; JSON unless listed.
ACCEPTED_TYPES: Mapping[str, tuple[str, ...]] = {
    "nagios": _JSON_TYPES + _FORM_TYPES,
    "icinga": _JSON_TYPES + _FORM_TYPES,
    "email": ("message/rfc822",),
}
_THREAD_VALIDATE_BYTES = 256 * 1024
_RETRY_AFTER_SECONDS = "5"


TallyFunction = Callable[[IntakeRecord], Tally | None]


@dataclass(frozen=True, slots=True)
class Integration:
    """An integration as the request path needs it, built once per config load."""

    config: IntegrationConfig
    parser: Parser
    auth: Authenticator
    max_body_bytes: int
    limiter: TokenBucket | None
    sample_limiter: TokenBucket
    # validates without making events (the pipeline parses later); None: parse here
    tally: TallyFunction | None = None


def _reject(status: int, reason: str, message: str, **extra: str) -> web.Response:
    headers = {key.replace("_", "-"): value for key, value in extra.items()}
    return json_error(status, reason, message, headers or None)


def _media_type(content_type: str) -> str:
    media = content_type.split(";", 1)[0].strip().lower()
    # application/vnd.foo+json is JSON too
    return "application/json" if media.endswith("+json") else media


@dataclass(frozen=True, slots=True)
class _Counters:
    """One integration's metric children, looked up once: ``labels()`` takes a lock and
    builds a key on every call, which shows at thousands of requests a second."""

    received: Any
    stored: Any
    duplicate: Any
    firing: Any
    resolved: Any

    @classmethod
    def of(cls, metrics: Metrics, name: str) -> _Counters:
        return cls(
            received=metrics.intake_received.labels("http", name),
            stored=metrics.intake_accepted.labels("http", name, "stored"),
            duplicate=metrics.intake_accepted.labels("http", name, "duplicate"),
            firing=metrics.alerts_received.labels(name, EventStatus.FIRING.value),
            resolved=metrics.alerts_received.labels(name, EventStatus.RESOLVED.value),
        )


def _validate(integration: Integration, probe: IntakeRecord) -> tuple[Tally, list[Event] | None]:
    """Vouch for a body: by its tally where the parser has one (the pipeline makes the
    events later), else by parsing it (and the events go along). Raises ParseError."""
    if integration.tally is not None:
        tally = integration.tally(probe)
        if tally is not None:
            return tally, None
    events = integration.parser.parse(probe)
    return Tally.of(events), events


class WebhookIntake:
    def __init__(
        self,
        *,
        integrations: Callable[[], Mapping[str, Integration]],
        writer: IntakeWriter,
        records: RecordStore,
        handoff: Callable[[IntakeRecord, list[Event] | None], None],
        metrics: Metrics,
        clock: Callable[[], datetime],
        sample_bytes: int,
        heartbeats: Callable[[IntegrationConfig, Sequence[Event]], None] | None = None,
    ) -> None:
        self._integrations = integrations
        self._heartbeats = heartbeats
        self._writer = writer
        self._records = records
        self._handoff = handoff
        self._metrics = metrics
        self._clock = clock
        self._sample_bytes = sample_bytes
        self._counters: dict[str, _Counters] = {}
        self._commit_seconds = metrics.commit_seconds.labels("http")

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["integration"]
        integration = self._integrations().get(name)
        if integration is None:
            return _reject(404, "unknown_integration", f"no integration named {name!r}")
        self._counted(name).received.inc()
        started = time.perf_counter()
        response = await self._accept(request, integration)
        if response.status == 202:
            self._commit_seconds.observe(time.perf_counter() - started)
        return response

    def _counted(self, name: str) -> _Counters:
        counters = self._counters.get(name)
        if counters is None:
            counters = self._counters[name] = _Counters.of(self._metrics, name)
        return counters

    async def _accept(self, request: web.Request, integration: Integration) -> web.Response:
        name = integration.config.name
        if integration.limiter is not None:
            wait = integration.limiter.take()
            if wait > 0:
                self._count_rejected(name, "rate_limited")
                return _reject(
                    429,
                    "rate_limited",
                    "too many requests for this integration",
                    Retry_After=str(max(1, int(wait + 0.999))),
                )
        if not integration.auth.needs_body():
            failure = integration.auth.check(request.headers, b"", time.time())
            if failure is not None:
                return self._auth_failed(name, failure.reason, failure.message)
        accepted = ACCEPTED_TYPES.get(integration.config.kind, _JSON_TYPES)
        media = _media_type(request.content_type)
        if media not in accepted:
            self._count_rejected(name, "unsupported_media_type")
            return _reject(
                415,
                "unsupported_media_type",
                f"Content-Type {request.content_type!r} is not accepted; send {accepted[0]}",
            )
        try:
            body = await read_body(request, integration.max_body_bytes)
        except RefusedBody as refused:
            if refused.status == 400:
                return await self._bad_input(
                    request, integration, b"", refused.reason, str(refused)
                )
            self._count_rejected(name, refused.reason)
            return _reject(refused.status, refused.reason, str(refused))
        claim = None
        if integration.auth.needs_body():
            failure = integration.auth.check(request.headers, body, time.time())
            if failure is not None:
                return self._auth_failed(name, failure.reason, failure.message)
            claim = integration.auth.replay_claim(name, request.headers)
        return await self._validate_and_commit(request, integration, body, media, claim)

    async def _validate_and_commit(
        self,
        request: web.Request,
        integration: Integration,
        body: bytes,
        media: str,
        claim: SignatureClaim | None,
    ) -> web.Response:
        name = integration.config.name
        now = self._clock()
        meta = {"content_type": media, "peer": request.remote or ""}
        delivery_header = integration.config.delivery_id_header
        delivery_id = request.headers.get(delivery_header, "") if delivery_header else ""
        if delivery_id:
            meta["delivery_id"] = delivery_id[:255]
        probe = IntakeRecord(0, Channel.HTTP, name, integration.config.kind, now, body, meta)
        try:
            if len(body) > _THREAD_VALIDATE_BYTES:
                tally, events = await asyncio.to_thread(_validate, integration, probe)
            else:
                tally, events = _validate(integration, probe)
        except ParseError as exc:
            return await self._bad_input(request, integration, body, exc.reason, str(exc))
        intake = NewIntake(
            channel=Channel.HTTP,
            source=name,
            kind=integration.config.kind,
            raw=body,
            received_at=now,
            meta=meta,
            dedup_key=self._dedup_key(integration.config, delivery_id, body, now),
            signature=claim,
        )
        try:
            committed = await self._writer.commit(intake)
        except StorageUnavailable as exc:
            self._count_rejected(name, "unavailable")
            log.warning("intake_commit_failed", integration=name, error=str(exc))
            return _reject(
                503,
                "unavailable",
                "storage is unavailable; retry later",
                Retry_After=_RETRY_AFTER_SECONDS,
            )
        except SignatureReplayed:
            return self._auth_failed(
                name,
                "replayed_signature",
                "this signed request was already accepted; sign every request anew",
            )
        except DataRejected:
            self._count_rejected(name, "unstorable")
            return _reject(
                422, "unstorable", "the database refuses to store this request as received"
            )
        counters = self._counted(name)
        (counters.duplicate if committed.duplicate else counters.stored).inc()
        if not committed.duplicate:
            self._handoff(intake.stored(committed.id), events)
            self._count_alerts(counters, tally)
        if self._heartbeats is not None:
            # a re-delivery is a sign of life too
            self._heartbeats(integration.config, events or ())
        return json_response(
            {
                "status": "accepted",
                "intake_id": committed.id,
                "duplicate": committed.duplicate,
                "events": tally.events,
            },
            status=202,
        )

    @staticmethod
    def _dedup_key(
        config: IntegrationConfig, delivery_id: str, body: bytes, now: datetime
    ) -> str | None:
        if delivery_id:
            return f"delivery:{config.name}:{delivery_id}"[:255]
        if config.dedup_window_seconds <= 0:
            return None
        # identical bodies in the same window bucket are one delivery
        bucket = int(now.timestamp()) // config.dedup_window_seconds
        digest = hashlib.sha256(body).hexdigest()
        return f"body:{config.name}:{bucket}:{digest}"

    def _auth_failed(self, name: str, reason: str, message: str) -> web.Response:
        self._count_rejected(name, "auth")
        log.info("webhook_auth_failed", integration=name, reason=reason)
        return _reject(401, reason, message, WWW_Authenticate='Bearer realm="intake-gateway"')

    @staticmethod
    def _count_alerts(counters: _Counters, tally: Tally) -> None:
        if tally.firing:
            counters.firing.inc(tally.firing)
        if tally.events > tally.firing:
            counters.resolved.inc(tally.events - tally.firing)

    def _count_rejected(self, name: str, reason: str) -> None:
        self._metrics.intake_rejected.labels("http", name, reason).inc()

    async def _bad_input(
        self,
        request: web.Request,
        integration: Integration,
        body: bytes,
        reason: str,
        message: str,
    ) -> web.Response:
        name = integration.config.name
        self._count_rejected(name, reason)
        log.info("webhook_rejected", integration=name, reason=reason)
        if integration.sample_limiter.take() == 0.0:
            try:
                await self._records.keep_rejected(
                    channel=Channel.HTTP,
                    source=name,
                    reason=reason,
                    message=message,
                    body=body,
                    size=len(body),
                    sample_bytes=self._sample_bytes,
                    meta={"content_type": request.content_type, "peer": request.remote or ""},
                    now=self._clock(),
                )
            except (StorageUnavailable, DataRejected) as exc:
                log.warning("rejected_sample_not_kept", integration=name, error=str(exc))
        return _reject(400, reason, message)
