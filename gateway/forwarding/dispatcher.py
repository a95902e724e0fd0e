"""The dispatcher: claims outbox rows and delivers them through sinks, at least once.

One lane per sink: it claims due rows (bounded by the sink's in-flight
limit, its rate budget and its circuit breaker) and delivers each claim in
its own task, so a slow incident never holds up another one. Waiting is on
an event (new work, a finished delivery, ``wake()``) with a timeout from the
next timer that matters; nothing sleeps in a loop.

A reload swaps in a new set of sinks at once (``swap``): every sink is
built anew (a rotated secret or an edited template takes effect), a lane
whose sink's config did not change keeps its circuit state, and the lanes
replaced finish their deliveries in flight on the old instances (see
gateway.forwarding.lanes). Rows of a removed sink stay in the outbox, counted
as ``unconfigured``, until a sink of that name comes back.

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
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import aiohttp
import structlog

from core.errors import ConfigError, StorageUnavailable
from gateway.forwarding.deliver import Deliverer
from gateway.forwarding.lanes import (
    Lane,
    SinkBuilder,
    SinkChanges,
    SinkSet,
    compare,
    new_lane,
    prepare_sinks,
)
from gateway.forwarding.metrics import OutboxMetrics
from gateway.forwarding.policy import CircuitState
from gateway.metrics import Metrics
from sinks.config import SinkConfig
from storage import Database, OutboxStore

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    lease_seconds: float = 120.0  # longer than any sink timeout: a live lease is never stolen
    poll_seconds: float = 1.0  # the longest a lane waits without being woken
    depth_seconds: float = 15.0  # how often the depth gauges are refreshed


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
        links: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._session_factory = session_factory
        self._settings = settings
        self._lanes = {
            config.name: new_lane(config, build, self._seconds, None) for config, build in sinks
        }
        self._retired: list[Lane] = []  # replaced by a reload, deliveries still in flight
        self._retirements: set[asyncio.Task[None]] = set()
        self._deliverer = Deliverer(
            store, metrics, clock, uniform, self._count, self._wake_lane, links
        )
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

    @property
    def sinks(self) -> dict[str, SinkConfig]:
        return {name: lane.config for name, lane in self._lanes.items()}

    @asynccontextmanager
    async def running(self) -> AsyncIterator[OutboxDispatcher]:
        self._stopping = False
        released = await self._store.release_all_leases()
        if released:
            log.info("outbox_stale_leases_released", rows=released)
        async with AsyncExitStack() as stack:
            stack.push_async_callback(self._close_sessions)
            self._built(self._lanes.values())
            self._start(self._lanes.values())
            depth = asyncio.create_task(self._depth_loop(), name="outbox-depth")
            try:
                yield self
            finally:
                self._stopping = True
                lanes = [*self._lanes.values(), *self._retired]
                loops = [lane.loop for lane in lanes if lane.loop is not None]
                for task in (*loops, depth, *self._retirements):
                    task.cancel()
                for task in (*loops, depth, *self._retirements):
                    with suppress(asyncio.CancelledError):
                        await task
                await self._abandon_in_flight()

    def _built(self, lanes: Iterable[Lane]) -> None:
        """Each lane's sink on a session of its own; on any failure no session stays open."""
        lanes = list(lanes)
        try:
            for lane in lanes:
                lane.start(self._session_factory())
        except BaseException:
            for lane in lanes:
                if lane.session is not None:
                    asyncio.get_running_loop().create_task(lane.session.close())
            raise

    def _start(self, lanes: Iterable[Lane]) -> None:
        for lane in lanes:
            lane.loop = asyncio.create_task(self._lane_loop(lane), name=f"outbox-{lane.name}")

    async def _close_sessions(self) -> None:
        for lane in (*self._lanes.values(), *self._retired):
            if lane.session is not None:
                await lane.session.close()

    def build_lanes(self, sinks: SinkSet) -> dict[str, Lane]:
        """New lanes for a reload, each sink built; raises ConfigError and changes nothing
        if a sink cannot be built."""
        lanes = {
            config.name: new_lane(config, build, self._seconds, self._lanes.get(config.name))
            for config, build in sinks.builders
        }
        try:
            self._built(lanes.values())
        except (ValueError, TypeError, OSError) as exc:
            raise ConfigError(f"sinks: cannot build a sink: {exc}") from exc
        return lanes

    def swap(self, lanes: dict[str, Lane]) -> SinkChanges:
        """Use these lanes from now on (one step on the loop); retire the old ones."""
        changes = compare(self.sinks, [lane.config for lane in lanes.values()])
        old, self._lanes = self._lanes, lanes
        self._metrics.configure(lanes)
        self._start(lanes.values())
        for lane in old.values():
            lane.retired = True
            lane.wakeup.set()
            self._retired.append(lane)
            task = asyncio.create_task(self._retire(lane), name=f"outbox-retire-{lane.name}")
            self._retirements.add(task)
            task.add_done_callback(self._retirements.discard)
        return changes

    async def _retire(self, lane: Lane) -> None:
        """The replaced lane stops claiming, its deliveries finish, its session closes."""
        if lane.loop is not None:
            with suppress(asyncio.CancelledError):
                await lane.loop
        if lane.tasks:
            await asyncio.wait(list(lane.tasks))
        successor = self._lanes.get(lane.name)
        if successor is not None and successor.predecessor is lane:
            successor.predecessor = None
        if lane.session is not None:
            await lane.session.close()
        self._retired.remove(lane)

    async def waiting_rows(self, sinks: Iterable[str]) -> dict[str, int]:
        """Rows still to deliver for these sinks (a reload reports a removed sink's)."""
        found = await self._store.depth()
        return {name: found[name].pending for name in sinks if name in found}

    def _all_tasks(self) -> list[asyncio.Task[None]]:
        return [task for lane in (*self._lanes.values(), *self._retired) for task in lane.tasks]

    async def drain(self, deadline: float) -> None:
        """Stop claiming; let deliveries in flight finish until ``deadline`` (monotonic)."""
        self._stopping = True
        pending = self._all_tasks()
        remaining = deadline - time.monotonic()
        if pending and remaining > 0:
            await asyncio.wait(pending, timeout=remaining)

    async def _abandon_in_flight(self) -> None:
        """Cancelled deliveries keep their lease until it expires; the next claim of a
        create looks the ticket up first, since the request may have gone out."""
        pending = self._all_tasks()
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def _lane_loop(self, lane: Lane) -> None:
        while not self._stopping and not lane.retired:
            lane.wakeup.clear()
            self.heartbeat = time.monotonic()
            try:
                await self._fill(lane)
            except StorageUnavailable as exc:
                log.warning("outbox_storage_unavailable", sink=lane.name, error=str(exc))
            if not lane.retired:
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
        wanted = lane.config.max_in_flight - lane.in_flight
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
            task = asyncio.create_task(self._deliverer.deliver(lane, claim, incident))
            lane.tasks.add(task)
            task.add_done_callback(partial(self._finished, lane))

    def _finished(self, lane: Lane, task: asyncio.Task[None]) -> None:
        lane.tasks.discard(task)
        self._wake_lane(lane.name)

    def _wake_lane(self, name: str) -> None:
        """Wake the sink's current lane (a reload may have replaced the one that asked)."""
        lane = self._lanes.get(name)
        if lane is not None:
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
        self._wake_lane(lane.config.fallback)

    def _count(self, lane: Lane, outcome: str) -> None:
        self._metrics.deliveries.labels(lane.name, outcome).inc()

    async def _depth_loop(self) -> None:
        while True:
            with suppress(StorageUnavailable):
                await self.refresh_depth()
            await asyncio.sleep(self._settings.depth_seconds)

    async def refresh_depth(self) -> None:
        self._metrics.show_depth(await self._store.depth(), self._clock())


def build_dispatcher(
    sinks_config: Sequence[SinkConfig],
    db: Database,
    metrics: Metrics,
    clock: Clock,
    session_factory: Callable[[], aiohttp.ClientSession],
    *,
    owner: str | None = None,
    settings: DispatchSettings = DispatchSettings(),
    links: Callable[[dict[str, Any]], str] | None = None,
) -> OutboxDispatcher:
    """The dispatcher for the configured sinks. No I/O beyond reading template overrides
    and secrets; a broken template or a missing secret raises ConfigError."""
    return OutboxDispatcher(
        store=OutboxStore(db, owner or f"{socket.gethostname()}:{os.getpid()}"),
        sinks=prepare_sinks(sinks_config).builders,
        metrics=OutboxMetrics(metrics.registry, [config.name for config in sinks_config]),
        clock=clock,
        session_factory=session_factory,
        settings=settings,
        links=links,
    )
