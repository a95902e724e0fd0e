"""The dispatcher's lanes, one per sink, and the sinks a config builds.

A config's sinks are checked and their templates compiled before anything
runs (``prepare_sinks``), and on reload every sink instance is built before
the dispatcher swaps to them, so a broken template or a missing secret
refuses the reload and changes nothing. A lane that a reload replaced is
retired: it claims nothing more, its deliveries in flight finish on the old
sink instance, then its HTTP session is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from core.errors import ConfigError
from gateway.forwarding.policy import CircuitBreaker, DeliveryBudget, Unlimited
from sinks.config import SinkConfig, sink_problems
from sinks.delivery import Sink
from sinks.registry import SINKS, templates_for
from sinks.templates import Templates

SinkBuilder = Callable[[aiohttp.ClientSession], Sink]


@dataclass(frozen=True, slots=True)
class SinkSet:
    """A config's sinks, each with the function that builds it on an HTTP session."""

    builders: tuple[tuple[SinkConfig, SinkBuilder], ...]

    @property
    def configs(self) -> tuple[SinkConfig, ...]:
        return tuple(config for config, _ in self.builders)


def _builder(
    build: Callable[[Any, aiohttp.ClientSession, Templates], Sink],
    config: SinkConfig,
    templates: Templates,
) -> SinkBuilder:
    def with_session(session: aiohttp.ClientSession) -> Sink:
        return build(config, session, templates)

    return with_session


def prepare_sinks(configs: Sequence[SinkConfig]) -> SinkSet:
    """Check the sinks and compile their templates (reads template files and secrets);
    raise ConfigError with every problem."""
    problems = sink_problems(configs)
    builders: list[tuple[SinkConfig, SinkBuilder]] = []
    for config in configs:
        try:
            templates = templates_for(config)
        except ConfigError as exc:
            problems.extend(f"sinks.{config.name}.{problem}" for problem in exc.problems)
            continue
        builders.append((config, _builder(SINKS[config.kind].build, config, templates)))
    if problems:
        raise ConfigError(problems)
    return SinkSet(tuple(builders))


@dataclass(frozen=True, slots=True)
class SinkChanges:
    """What a reload did to the sinks, by name."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def as_json(self) -> dict[str, list[str]]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
        }


def compare(old: Mapping[str, SinkConfig], new: Sequence[SinkConfig]) -> SinkChanges:
    wanted = {config.name: config for config in new}
    return SinkChanges(
        added=tuple(sorted(wanted.keys() - old.keys())),
        removed=tuple(sorted(old.keys() - wanted.keys())),
        changed=tuple(
            sorted(name for name in wanted.keys() & old.keys() if wanted[name] != old[name])
        ),
    )


@dataclass
class Lane:
    config: SinkConfig
    build: SinkBuilder
    breaker: CircuitBreaker
    budget: DeliveryBudget | Unlimited
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    sink: Sink | None = None
    session: aiohttp.ClientSession | None = None
    loop: asyncio.Task[None] | None = None
    fresh: bool = True  # new rows were announced since the last claim
    retired: bool = False  # replaced by a reload: claims nothing more
    predecessor: Lane | None = None  # the lane it replaced, while that one's deliveries finish

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def in_flight(self) -> int:
        """Deliveries under way for this sink, the replaced lane's included."""
        before = len(self.predecessor.tasks) if self.predecessor is not None else 0
        return len(self.tasks) + before

    def start(self, session: aiohttp.ClientSession) -> None:
        """Build the sink on its own session (raises what the sink's constructor raises)."""
        self.session = session
        self.sink = self.build(session)


def new_lane(
    config: SinkConfig, build: SinkBuilder, seconds: Callable[[], float], previous: Lane | None
) -> Lane:
    """A lane for the sink; one whose config did not change keeps its circuit and budget."""
    if previous is not None and previous.config == config:
        return Lane(config, build, previous.breaker, previous.budget, predecessor=previous)
    breaker = CircuitBreaker(config.circuit.failures, config.circuit.open_seconds, seconds)
    budget: DeliveryBudget | Unlimited = Unlimited()
    if config.rate_limit:
        budget = DeliveryBudget(config.rate_limit.per_second, config.rate_limit.burst, seconds)
    return Lane(config, build, breaker, budget, predecessor=previous)
