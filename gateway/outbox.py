"""The dispatcher: claims outbox rows and delivers them through sinks, at least once.

One lane per sink: it claims due rows (bounded by the sink's in-flight
limit, its rate budget and its circuit breaker) and delivers each claim in
its own task, so a slow incident never holds up another one. Waiting is on
an event (new work, a finished delivery, ``wake()``) with a timeout from the
next timer that matters; nothing sleeps in a loop.

Idempotency: every row has a stable key. A sink that keeps tickets gets the
ticket id recorded on first success; a create claimed more than once (after
a failure, a timeout or a crash) is looked up by the incident key before it
is sent again.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import aiohttp
import structlog

from gateway.errors import ConfigError, StorageUnavailable
from gateway.metrics import Metrics
from gateway.outbox_metrics import OutboxMetrics
from gateway.outbox_policy import (
    CircuitBreaker,
    CircuitState,
    DeliveryBudget,
    Unlimited,
    retry_delay,
)
from gateway.outbox_settle import DeliveredWriter
from gateway.sinkconfig import SinkConfig, sink_problems
from sinks.delivery import Delivered, Delivery, DeliveryFailed, OutboxAction, Sink
from sinks.email import EmailSink
from sinks.registry import SINKS, templates_for
from sinks.templates import Templates
from storage.database import Database
from storage.outbox import Claim, OutboxStore

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
SinkBuilder = Callable[[aiohttp.ClientSession], Sink]


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    lease_seconds: float = 120.0  # longer than any sink timeout: a live lease is never stolen
    poll_seconds: float = 1.0  # the longest a lane waits without being woken
    depth_seconds: float = 15.0  # how often the depth gauges are refreshed


@dataclass
class Lane:
    config: SinkConfig
    build: SinkBuilder
    breaker: CircuitBreaker
    budget: DeliveryBudget | Unlimited
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    sink: Sink | None = None
    fresh: bool = True  # new rows were announced since the last claim

    @property
    def name(self) -> str:
        return self.config.name


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


class OutboxDispatcher:
    def __init__(
        self,
        *,
        store: OutboxStore,
        sinks: Sequence[tuple[SinkConfig, SinkBuilder]],
        metrics: OutboxMetrics,
        clock: Clock,
        session_factory: Callable[[], aiohttp.ClientSession],
        settings: DispatchSettings = DispatchSettings(),
        uniform: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._session_factory = session_factory
        self._settings = settings
        self._uniform = uniform
        seconds = self._seconds
        self._lanes = {
            config.name: Lane(
                config=config,
                build=build,
                breaker=CircuitBreaker(
                    config.circuit.failures, config.circuit.open_seconds, seconds
                ),
                budget=(
                    DeliveryBudget(config.rate_limit.per_second, config.rate_limit.burst, seconds)
                    if config.rate_limit
                    else Unlimited()
                ),
            )
            for config, build in sinks
        }
        self._settler = DeliveredWriter(store)
        self._stopping = False
        self.heartbeat = time.monotonic()

    def _seconds(self) -> float:
        """The injected clock as seconds, for the breaker and budgets (tests move it)."""
        return self._clock().timestamp()

    def wake(self) -> None:
        """New rows were committed (or the clock moved): look now, not at the next poll."""
        for lane in self._lanes.values():
            lane.fresh = True
            lane.wakeup.set()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[OutboxDispatcher]:
        self._stopping = False
        released = await self._store.release_all_leases()
        if released:
            log.info("outbox_stale_leases_released", rows=released)
        async with AsyncExitStack() as stack:
            for lane in self._lanes.values():
                session = self._session_factory()
                stack.push_async_callback(session.close)
                lane.sink = lane.build(session)
            loops = [
                asyncio.create_task(self._lane_loop(lane), name=f"outbox-{lane.name}")
                for lane in self._lanes.values()
            ]
            loops.append(asyncio.create_task(self._depth_loop(), name="outbox-depth"))
            try:
                yield self
            finally:
                self._stopping = True
                for task in loops:
                    task.cancel()
                for task in loops:
                    with suppress(asyncio.CancelledError):
                        await task
                await self._abandon_in_flight()

    async def drain(self, deadline: float) -> None:
        """Stop claiming; let deliveries in flight finish until ``deadline`` (monotonic)."""
        self._stopping = True
        pending = [task for lane in self._lanes.values() for task in lane.tasks]
        remaining = deadline - time.monotonic()
        if pending and remaining > 0:
            await asyncio.wait(pending, timeout=remaining)

    async def _abandon_in_flight(self) -> None:
        """Cancelled deliveries keep their lease until it expires; the next claim of a
        create looks the ticket up first, since the request may have gone out."""
        pending = [task for lane in self._lanes.values() for task in lane.tasks]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def _lane_loop(self, lane: Lane) -> None:
        while not self._stopping:
            lane.wakeup.clear()
            self.heartbeat = time.monotonic()
            try:
                await self._fill(lane)
            except StorageUnavailable as exc:
                log.warning("outbox_storage_unavailable", sink=lane.name, error=str(exc))
            self._metrics.circuit.labels(lane.name).set(int(lane.breaker.state))
            with suppress(TimeoutError):
                await asyncio.wait_for(lane.wakeup.wait(), self._wait_seconds(lane))

    def _wait_seconds(self, lane: Lane) -> float:
        wait = self._settings.poll_seconds
        if lane.breaker.state is CircuitState.OPEN:
            wait = min(wait, lane.breaker.seconds_until_probe())
        return max(0.001, min(wait, lane.budget.seconds_until_next() or wait))

    async def _fill(self, lane: Lane) -> None:
        if not lane.config.enabled:
            return
        wanted = lane.config.max_in_flight - len(lane.tasks)
        if lane.tasks and not lane.fresh and wanted < lane.config.max_in_flight // 4:
            return  # busy: refill in batches, one claim transaction for several rows
        lane.fresh = False
        if lane.breaker.state is CircuitState.OPEN:
            if lane.config.fallback and wanted > 0:
                await self._hand_over_while_open(lane, wanted)
            return
        room = min(lane.breaker.room(wanted, len(lane.tasks)), lane.budget.available())
        if room <= 0:
            return
        now = self._clock()
        lease = timedelta(seconds=self._settings.lease_seconds)
        claims = await self._store.claim(lane.name, room, now, lease)
        lane.budget.spend(len(claims))
        if not claims:
            return
        # one read for the whole batch, not two per delivery
        incidents = await self._store.incidents(
            [claim.head.incident_id for claim in claims if claim.head.incident_id is not None]
        )
        for claim in claims:
            incident = incidents.get(claim.head.incident_id or 0)
            task = asyncio.create_task(self._deliver(lane, claim, incident))
            lane.tasks.add(task)
            task.add_done_callback(partial(self._finished, lane))

    def _finished(self, lane: Lane, task: asyncio.Task[None]) -> None:
        lane.tasks.discard(task)
        lane.wakeup.set()

    async def _hand_over_while_open(self, lane: Lane, wanted: int) -> None:
        """The circuit is open: copy waiting rows to the fallback now, keep them for later."""
        assert lane.config.fallback is not None
        now = self._clock()
        lease = timedelta(seconds=self._settings.lease_seconds)
        later = now + timedelta(seconds=lane.breaker.seconds_until_probe())
        for claim in await self._store.claim(lane.name, wanted, now, lease):
            if ":fallback:" not in claim.head.idempotency_key:
                await self._store.hand_over(claim, lane.config.fallback, now)
                self._count(lane, "fallback")
            await self._store.reschedule(claim, later, None, None)
        self._lanes[lane.config.fallback].wakeup.set()

    async def _deliver(self, lane: Lane, claim: Claim, incident: dict[str, Any] | None) -> None:
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
        if delivery.action is OutboxAction.ACKNOWLEDGE:
            # a mail of its own to the requester: neither needs nor makes a ticket
            if not isinstance(sink, EmailSink):
                raise DeliveryFailed(f"sink {lane.name} cannot answer mail", retryable=False)
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
                asyncio.get_running_loop().call_later(delay, lane.wakeup.set)
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
            self._lanes[fallback].wakeup.set()
        bound.warning("outbox_dead_letter", error=reason)

    def _count(self, lane: Lane, outcome: str) -> None:
        self._metrics.deliveries.labels(lane.name, outcome).inc()

    async def _depth_loop(self) -> None:
        while True:
            with suppress(StorageUnavailable):
                await self.refresh_depth()
            await asyncio.sleep(self._settings.depth_seconds)

    async def refresh_depth(self) -> None:
        now = self._clock()
        found = await self._store.depth()
        totals: dict[str, list[float]] = {}
        for sink, depth in found.items():
            label = self._metrics.label(sink)
            current = totals.setdefault(label, [0, 0.0, 0])
            current[0] += depth.pending
            current[2] += depth.dead
            if depth.oldest_pending is not None:
                current[1] = max(current[1], (now - depth.oldest_pending).total_seconds())
        for label in (*self._metrics.sinks, "unconfigured"):
            pending, oldest, dead = totals.get(label, [0, 0.0, 0])
            self._metrics.depth.labels(label).set(pending)
            self._metrics.oldest.labels(label).set(max(0.0, oldest))
            self._metrics.dead.labels(label).set(dead)


def _builder(
    build: Callable[[Any, aiohttp.ClientSession, Templates], Sink],
    config: SinkConfig,
    templates: Templates,
) -> SinkBuilder:
    def with_session(session: aiohttp.ClientSession) -> Sink:
        return build(config, session, templates)

    return with_session


def build_dispatcher(
    sinks_config: Sequence[SinkConfig],
    db: Database,
    metrics: Metrics,
    clock: Clock,
    session_factory: Callable[[], aiohttp.ClientSession],
    *,
    owner: str | None = None,
    settings: DispatchSettings = DispatchSettings(),
) -> OutboxDispatcher:
    """The dispatcher for the configured sinks. No I/O beyond reading template overrides
    and secrets; a broken template or a missing secret raises ConfigError."""
    problems = sink_problems(sinks_config)
    builders: list[tuple[SinkConfig, SinkBuilder]] = []
    for config in sinks_config:
        try:
            templates = templates_for(config)
        except ConfigError as exc:
            problems.extend(f"sinks.{config.name}.{problem}" for problem in exc.problems)
            continue
        kind = SINKS[config.kind]
        builders.append((config, _builder(kind.build, config, templates)))
    if problems:
        raise ConfigError(problems)
    return OutboxDispatcher(
        store=OutboxStore(db, owner or f"{socket.gethostname()}:{os.getpid()}"),
        sinks=builders,
        metrics=OutboxMetrics(metrics.registry, [config.name for config in sinks_config]),
        clock=clock,
        session_factory=session_factory,
        settings=settings,
    )
