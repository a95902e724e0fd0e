"""Reload (SIGHUP or ``POST /api/v1/reload``): re-read the config, build everything
from it, and swap it in whole, or keep the running config and say why.

Reading, validating and compiling run in a thread so a large rule set never
holds the event loop; the sinks are then built on the loop (they need its
HTTP sessions), and the swap of runtime, inbound hooks and sinks is one step
on the loop, so no request or delivery sees half of a reload. What a reload
applies and what needs a restart: gateway.config.reload_policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog

from core.errors import ConfigError, StorageUnavailable
from gateway.config.model import LoadedConfig, load_config
from gateway.config.reload_policy import restart_problems
from gateway.forwarding.dispatcher import OutboxDispatcher
from gateway.forwarding.inbound import InboundHooks, InboundSink, inbound_sinks
from gateway.forwarding.lanes import SinkChanges, SinkSet, prepare_sinks
from gateway.metrics import Metrics
from gateway.runtime import Runtime, RuntimeHolder, compile_runtime
from storage import Database, Operator, audit

log = structlog.get_logger(__name__)

SIGNAL = Operator(actor="SIGHUP", via="signal")


class RestartNeeded(ConfigError):
    """The new config is valid but changes what only a restart applies."""


@dataclass(frozen=True, slots=True)
class LastReload:
    at: datetime
    by: str
    result: ReloadResult


@dataclass(frozen=True, slots=True)
class ReloadResult:
    problems: tuple[str, ...] = ()
    restart_needed: bool = False
    rules: str = ""
    sinks: SinkChanges = field(default_factory=SinkChanges)
    kept_rows: Mapping[str, int] = field(default_factory=dict)  # removed sinks' waiting rows

    @property
    def applied(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class _Prepared:
    runtime: Runtime
    sinks: SinkSet
    inbound: dict[str, InboundSink]


def _prepare(running: LoadedConfig, path: Path) -> _Prepared:
    loaded = load_config(path)
    runtime = compile_runtime(loaded)
    problems = restart_problems(running.config, loaded.config, path)
    if problems:
        raise RestartNeeded(problems)
    sinks = prepare_sinks(loaded.config.sinks)
    try:
        inbound = inbound_sinks(loaded.config.sinks)
    except ValueError as exc:
        raise ConfigError(f"{path}:0: sinks inbound: {exc}") from None
    return _Prepared(runtime, sinks, inbound)


class Reloader:
    def __init__(
        self,
        holder: RuntimeHolder,
        metrics: Metrics,
        dispatcher: OutboxDispatcher,
        inbound: InboundHooks,
        db: Database,
    ) -> None:
        self._db = db  # the audit log's
        self._holder = holder
        self._metrics = metrics
        self._dispatcher = dispatcher
        self._inbound = inbound
        self._lock = asyncio.Lock()  # a signal and an API call at once: one after the other
        # the last reload's outcome, problems included (the console's rules page shows it)
        self.last: LastReload | None = None

    async def reload(self, by: Operator = SIGNAL) -> ReloadResult:
        """Apply the config file as it is now, or refuse with every problem. ``by``: who
        asked (logged, and kept in the audit log with the hashes of what is in force)."""
        async with self._lock:
            running = self._holder.current.loaded
            try:
                prepared = await asyncio.to_thread(_prepare, running, running.path)
                lanes = self._dispatcher.build_lanes(prepared.sinks)
            except ConfigError as exc:
                return await self._refused(exc, by)
            # one step on the loop: nothing runs between these three
            self._holder.current = prepared.runtime
            self._inbound.replace(prepared.inbound)
            changes = self._dispatcher.swap(lanes)
            self._dispatcher.wake()
            kept = await self._kept_rows(changes)
        version = prepared.runtime.ruleset.version
        self._metrics.reloads.labels("success").inc()
        self._metrics.reload_success.set(1)
        self._metrics.rules_info.clear()
        self._metrics.rules_info.labels(version).set(1)
        log.info("reloaded", by=by.actor, rules=version, sinks=changes.as_json())
        details = {"applied": True, "rules_version": version, **prepared.runtime.hashes}
        await self._audit(by, details)
        result = ReloadResult(rules=version, sinks=changes, kept_rows=kept)
        self.last = LastReload(datetime.now(UTC), by.actor, result)
        return result

    async def _audit(self, by: Operator, details: dict[str, object]) -> None:
        try:
            await audit.record_alone(self._db, by, "config.reload", "config", details)
        except StorageUnavailable as exc:  # the reload stands; the log says what was lost
            log.error("audit_record_failed", action="config.reload", error=str(exc))

    async def _kept_rows(self, changes: SinkChanges) -> dict[str, int]:
        if not changes.removed:
            return {}
        try:
            kept = await self._dispatcher.waiting_rows(changes.removed)
        except StorageUnavailable as exc:
            log.warning("sink_removed_rows_unknown", sinks=list(changes.removed), error=str(exc))
            return {}
        for sink in changes.removed:
            # the rows stay; a sink of the same name delivers them if it comes back
            log.warning("sink_removed_rows_kept", sink=sink, rows=kept.get(sink, 0))
        return kept

    async def _refused(self, exc: ConfigError, by: Operator) -> ReloadResult:
        self._metrics.reloads.labels("failure").inc()
        self._metrics.reload_success.set(0)
        restart = isinstance(exc, RestartNeeded)
        log.error("reload_refused", by=by.actor, restart_needed=restart, problems=exc.problems)
        # what stays in force is the running config, as it was loaded
        in_force = self._holder.current
        details = {
            "applied": False,
            "problems": len(exc.problems),
            "rules_version": in_force.ruleset.version,
            **in_force.hashes,
        }
        await self._audit(by, details)
        result = ReloadResult(problems=tuple(exc.problems), restart_needed=restart)
        self.last = LastReload(datetime.now(UTC), by.actor, result)
        return result
