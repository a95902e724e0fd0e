"""One claim to its sink, at least once: merged and throttled, sent (the ticket looked
up before a create that may have gone out already, or created), then settled:
delivered, retried later, or dead-lettered (and handed to the fallback sink)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from core.errors import StorageUnavailable
from core.outbox import OutboxAction
from gateway.forwarding.lanes import Lane
from gateway.forwarding.merge import merge
from gateway.forwarding.metrics import OutboxMetrics
from gateway.forwarding.policy import retry_delay
from gateway.forwarding.settle import DeliveredWriter
from sinks.delivery import Delivered, Delivery, DeliveryFailed
from storage import Claim, OutboxStore

# logged as the dispatcher, as before this module was split from it
log = structlog.get_logger("gateway.forwarding.dispatcher")


class Deliverer:
    def __init__(
        self,
        store: OutboxStore,
        metrics: OutboxMetrics,
        clock: Callable[[], datetime],
        uniform: Callable[[], float],
        count: Callable[[Lane, str], None],
        wake_lane: Callable[[str], None],
        links: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        """``count``: one delivery outcome of a lane; ``wake_lane``: the sink's lane
        should look for work (a retry is due, a fallback got rows); ``links``: the
        requester's status page link, for mails to them."""
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._uniform = uniform
        self._count = count
        self._wake_lane = wake_lane
        self._links = links
        self._settler = DeliveredWriter(store)

    async def deliver(self, lane: Lane, claim: Claim, incident: dict[str, Any] | None) -> None:
        bound = log.bind(
            sink=lane.name, outbox_id=claim.head.id, incident_id=claim.head.incident_id
        )
        started = time.monotonic()
        try:
            delivery = await self._prepare(lane, claim, incident)
            if delivery is None:
                return
            delivered = await self._send(lane, claim, delivery)
        except DeliveryFailed as exc:
            self._metrics.request_seconds.labels(lane.name).observe(time.monotonic() - started)
            await self._guard(bound, self._failed(lane, claim, exc))
            return
        except StorageUnavailable as exc:
            # the lease runs out and the row is claimed again, by us or another replica
            bound.warning("outbox_storage_unavailable", error=str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a sink bug must not stop the lane; retried
            bound.exception("outbox_sink_crashed")
            failure = DeliveryFailed(f"sink error: {exc!r}", retryable=True, uncertain=True)
            await self._guard(bound, self._failed(lane, claim, failure))
            return
        self._metrics.request_seconds.labels(lane.name).observe(time.monotonic() - started)
        await self._guard(bound, self._succeeded(lane, claim, delivered))

    async def _guard(self, bound: Any, settling: Awaitable[None]) -> None:
        try:
            await settling
        except StorageUnavailable as exc:
            bound.warning("outbox_settle_failed", error=str(exc))

    async def _prepare(
        self, lane: Lane, claim: Claim, incident: dict[str, Any] | None
    ) -> Delivery | None:
        """The delivery, or None when the claim was deferred by the comment throttle."""
        incident_id = claim.head.incident_id
        if incident is None:
            raise DeliveryFailed(f"incident {incident_id} does not exist", retryable=False)
        delivery = merge(claim, incident)
        if delivery.action is OutboxAction.COMMENT and incident_id is not None:
            interval = timedelta(seconds=lane.config.comment_interval_seconds)
            last = await self._store.last_delivered(incident_id, lane.name, OutboxAction.COMMENT)
            now = self._clock()
            if (
                last is not None
                and now < last + interval
                and not await self._store.blocked_behind(claim)
            ):
                await self._store.reschedule(claim, last + interval, None, None)
                self._count(lane, "deferred")
                return None
        return delivery

    async def _send(self, lane: Lane, claim: Claim, delivery: Delivery) -> Delivered:
        sink = lane.sink
        assert sink is not None
        incident_id = claim.head.incident_id
        if delivery.action.to_requester:
            # a mail of its own to the requester: neither needs nor makes a ticket
            if not sink.answers_mail:
                raise DeliveryFailed(f"sink {lane.name} cannot answer mail", retryable=False)
            if self._links is not None:
                delivery = replace(delivery, portal_url=self._links(dict(delivery.incident)))
            return await sink.acknowledge(delivery)  # its Message-ID is remembered on success
        if not sink.tracks_tickets or incident_id is None:
            return await sink.apply(delivery, None)
        ticket = await self._store.ticket(incident_id, lane.name)
        # a create claimed before may have reached the system; any other action
        # may follow a create whose record was lost
        uncertain = claim.head.attempts > 1 or delivery.action is not OutboxAction.CREATE
        if ticket is None and sink.can_lookup and uncertain:
            ticket = await sink.lookup(delivery)
            if ticket is not None:
                await self._store.remember_ticket(incident_id, lane.name, ticket, self._clock())
        if ticket is None:
            created = await sink.create(replace(delivery, action=OutboxAction.CREATE))
            ticket = created.ticket
            if ticket is not None:
                await self._store.remember_ticket(incident_id, lane.name, ticket, self._clock())
            await self._remember_messages(incident_id, created)
            if delivery.action is OutboxAction.CREATE:
                return created
        elif delivery.action is OutboxAction.CREATE:
            return Delivered(ticket=ticket, response=f"ticket {ticket.ticket_id} exists")
        return await sink.apply(delivery, ticket)

    async def _remember_messages(self, incident_id: int | None, delivered: Delivered) -> None:
        if incident_id is not None and delivered.message_ids:
            await self._store.remember_messages(incident_id, delivered.message_ids, self._clock())

    async def _succeeded(self, lane: Lane, claim: Claim, delivered: Delivered) -> None:
        now = self._clock()
        lane.breaker.succeeded()
        if claim.head.action is not OutboxAction.CREATE:
            await self._remember_messages(claim.head.incident_id, delivered)
        await self._settler.delivered(claim, now, delivered.response)
        self._count(lane, "delivered")
        for item in claim.items:
            age = (now - item.created_at).total_seconds()
            self._metrics.latency.labels(lane.name).observe(max(0.0, age))
        log.debug("outbox_delivered", sink=lane.name, outbox_id=claim.head.id, rows=len(claim.ids))

    async def _failed(self, lane: Lane, claim: Claim, exc: DeliveryFailed) -> None:
        now = self._clock()
        bound = log.bind(sink=lane.name, outbox_id=claim.head.id, status=exc.status)
        if exc.retryable:
            lane.breaker.failed()
            retry = lane.config.retry
            delay = retry_delay(
                claim.head.attempts,
                base=retry.base_seconds,
                cap=retry.cap_seconds,
                retry_after=exc.retry_after,
                uniform=self._uniform,
            )
            age = (now - claim.head.created_at).total_seconds()
            if age + delay <= retry.max_age_seconds:
                when = now + timedelta(seconds=delay)
                await self._store.reschedule(claim, when, str(exc), exc.response)
                self._count(lane, "retried")
                self._metrics.retries.labels(lane.name).inc()
                asyncio.get_running_loop().call_later(delay, self._wake_lane, lane.name)
                bound.info("outbox_retry", error=str(exc), delay=round(delay, 3))
                return
            reason = f"gave up after {claim.head.attempts} attempts in {age:.0f}s: {exc}"
        else:
            reason = str(exc)
        fallback = lane.config.fallback
        if ":fallback:" in claim.head.idempotency_key:
            fallback = None  # a copy is never handed on again
        await self._store.dead_letter(claim, now, reason, exc.response, fallback)
        self._count(lane, "dead")
        if fallback:
            self._wake_lane(fallback)
        bound.warning("outbox_dead_letter", error=reason)
