"""Heartbeats: the HTTP edge notes each sign of life; a periodic job acts on silence.

Recognised at the edge, not in the pipeline: a heartbeat says "the
monitoring system reaches us", and the edge knows that the moment a delivery
is committed, even while the pipeline lags behind an alert storm (a lagging
pipeline must not raise "monitoring is down") and even for a re-delivery the
pipeline never sees. The edge only updates a dict; each job run writes it to
the ``heartbeats`` table, so the request path gains no database write.

One job run per interval, in one transaction: store this replica's
sightings, read every watched integration's row, set the age gauges, and
then, holding ``pg_try_advisory_xact_lock`` on PostgreSQL (one replica
decides), raise or resolve the incidents. Raising and resolving feed a
synthetic event (kind ``heartbeat``) through the rule engine and the
incident store like any other event, so it is de-duplicated, prioritised
and forwarded the usual way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import structlog

from core.errors import StorageUnavailable
from core.records import Event
from gateway.background import background
from gateway.config.model import IntegrationConfig
from gateway.jobs.heartbeat_watch import (
    Change,
    HeartbeatRule,
    change_due,
    heartbeat_age,
    heartbeat_event,
)
from gateway.metrics import Metrics
from rules.decision import RuleSet
from storage import Database, HeartbeatRow, HeartbeatStore, IncidentStore, QueryRunner

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]

# Any constant unique to this program: the advisory lock key of the heartbeat job.
HEARTBEAT_LOCK_KEY = 0x1A7A_6E03
# Checks run several times per timeout, so silence is noticed soon after it begins.
_CHECKS_PER_TIMEOUT = 4
_SHORTEST_INTERVAL = timedelta(milliseconds=250)
_LONGEST_INTERVAL = timedelta(seconds=15)


class HeartbeatMonitor:
    def __init__(
        self,
        *,
        db: Database,
        store: HeartbeatStore,
        incidents: IncidentStore,
        integrations: Callable[[], Sequence[IntegrationConfig]],
        ruleset: Callable[[], RuleSet],
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self._db = db
        self._store = store
        self._incidents = incidents
        self._integrations = integrations
        self._ruleset = ruleset
        self._metrics = metrics
        self._clock = clock
        # sightings at this replica's edge since the last run: integration -> newest time
        self._seen: dict[str, datetime] = {}
        # compiled rules, rebuilt when a reload brings a new config object
        self._rules: dict[str, tuple[IntegrationConfig, HeartbeatRule | None]] = {}
        self._gauged: set[str] = set()
        self._watching_since = clock()

    # -- the edge ------------------------------------------------------------

    def observe(self, config: IntegrationConfig, events: Sequence[Event]) -> None:
        """A delivery of ``config``'s integration was committed: note it if it is a heartbeat.

        The time is taken now, after the commit, so a sighting is never older
        than a check that ran while the delivery was being committed.
        """
        rule = self._rule_for(config)
        now = self._clock()
        if rule is None or not rule.is_heartbeat(events, now):
            return
        previous = self._seen.get(config.name)
        if previous is None or previous < now:
            self._seen[config.name] = now

    def _rule_for(self, config: IntegrationConfig) -> HeartbeatRule | None:
        cached = self._rules.get(config.name)
        if cached is not None and cached[0] is config:
            return cached[1]
        rule = HeartbeatRule.from_config(config)
        self._rules[config.name] = (config, rule)
        return rule

    def _watched(self) -> list[HeartbeatRule]:
        rules = (self._rule_for(config) for config in self._integrations())
        return [rule for rule in rules if rule is not None]

    # -- the job ---------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[HeartbeatMonitor]:
        self._watching_since = self._clock()
        async with background(self._loop(), "heartbeats"):
            yield self

    def interval(self) -> float:
        """Seconds between runs: a fraction of the shortest timeout, within bounds."""
        timeouts = [rule.timeout for rule in self._watched()]
        wanted = min(timeouts) / _CHECKS_PER_TIMEOUT if timeouts else _LONGEST_INTERVAL
        return min(max(wanted, _SHORTEST_INTERVAL), _LONGEST_INTERVAL).total_seconds()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval())
            try:
                await self.run_once(self._clock())
            except StorageUnavailable as exc:
                log.warning("heartbeat_check_storage_unavailable", error=str(exc))
            except Exception:  # the next run tries again; the task must live on
                log.exception("heartbeat_check_failed")

    async def run_once(self, now: datetime) -> list[tuple[str, Change]]:
        """One check at ``now``; return the incidents raised or resolved (none if not ours)."""
        rules = self._watched()
        seen, self._seen = self._seen, {}
        if not rules and not seen:
            self._clear_gauges(set())
            return []
        try:
            async with self._db.transaction() as connection:
                await self._store.record_seen(connection, seen)
                rows = await self._store.rows(connection, [rule.integration for rule in rules])
                self._set_gauges(rules, rows, now)
                if not await self._store.try_lock(connection, HEARTBEAT_LOCK_KEY):
                    return []  # another replica decides this round
                return await self._act(connection, rules, rows, now)
        except BaseException:
            self._keep_unsaved(seen)
            raise

    async def _act(
        self,
        connection: QueryRunner,
        rules: list[HeartbeatRule],
        rows: Mapping[str, HeartbeatRow],
        now: datetime,
    ) -> list[tuple[str, Change]]:
        done: list[tuple[str, Change]] = []
        for rule in rules:
            row = rows.get(rule.integration)
            last_seen = row.last_seen if row else None
            alerted_at = row.alerted_at if row else None
            change = change_due(rule, last_seen, alerted_at, self._watching_since, now)
            if change is None:
                continue
            at = last_seen or self._watching_since
            await self._feed(connection, heartbeat_event(rule.integration, change, at, now), now)
            alerted = now if change is Change.MISSING else None
            await self._store.set_alerted(connection, rule.integration, alerted)
            log.warning("heartbeat_" + change.value, integration=rule.integration, last_seen=at)
            done.append((rule.integration, change))
        return done

    async def _feed(self, connection: QueryRunner, event: Event, now: datetime) -> None:
        """The event through the rules and the incident store, as the pipeline applies one."""
        await self._incidents.judge(connection, self._ruleset(), [event], None, now)

    def _keep_unsaved(self, seen: Mapping[str, datetime]) -> None:
        """A failed run keeps its sightings for the next one."""
        for integration, at in seen.items():
            current = self._seen.get(integration)
            if current is None or current < at:
                self._seen[integration] = at

    def _set_gauges(
        self, rules: list[HeartbeatRule], rows: Mapping[str, HeartbeatRow], now: datetime
    ) -> None:
        for rule in rules:
            row = rows.get(rule.integration)
            age = heartbeat_age(row.last_seen if row else None, self._watching_since, now)
            self._metrics.heartbeat_age.labels(rule.integration).set(age)
        self._clear_gauges({rule.integration for rule in rules})

    def _clear_gauges(self, watched: set[str]) -> None:
        """Integrations no longer watched (after a reload) lose their gauge."""
        for integration in self._gauged - watched:
            self._metrics.heartbeat_age.remove(integration)
        self._gauged = watched
