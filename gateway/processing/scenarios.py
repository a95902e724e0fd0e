"""Rule scenarios: a rule set through whole incident lifecycles, on a clock that moves.

``intake-gateway test-rules`` runs a file with ``scenarios:`` here (the file
format is in gateway.processing.scenario_spec and docs/rule-tests.md). Each scenario
gets a scratch SQLite database and the real incident store: payloads go
through the real parsers and rules as the pipeline applies them, the
periodic job (hold-down resolutions, auto-close, SLA escalations) runs at
every tick the clock passes, and after each step the incidents are read as
the API shows them and compared with what the step expects.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from core.errors import ConfigError, ParseError
from core.yamldoc import YamlDocument
from gateway.jobs.periodic import PeriodicJobs
from gateway.metrics import Metrics
from gateway.processing.rule_tests import CaseFailure, compare, read_spec
from gateway.processing.scenario_spec import ScenarioFileSpec, ScenarioSpec, StepSpec
from parsers.base import Parser
from rules.coverage import Coverage
from rules.decision import Decision
from rules.engine import CompiledRuleSet
from storage import (
    ActionRefused,
    Actions,
    Database,
    DatabaseSettings,
    IncidentStore,
    NewSilence,
    PeriodicStore,
    get_incident,
    migrate,
)

_DECISION = TypeAdapter(Decision)
_AUTHOR = "scenario"
RulesetLoader = Callable[[Path, Path | None], CompiledRuleSet]


@dataclass
class ScenarioReport:
    passed: int = 0
    failures: list[CaseFailure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def run_scenario_files(
    paths: list[Path], loader: RulesetLoader, coverage: Coverage
) -> ScenarioReport:
    report = ScenarioReport()
    for path in paths:
        read = read_spec(path, ScenarioFileSpec, report.errors)
        if read is not None:
            await _run_file(path, *read, loader, coverage, report)
    return report


async def _run_file(
    path: Path,
    doc: YamlDocument,
    spec: ScenarioFileSpec,
    loader: RulesetLoader,
    coverage: Coverage,
    report: ScenarioReport,
) -> None:
    base = path.parent
    rules_dir = (base / spec.rules_dir).resolve()
    try:
        ruleset = loader(rules_dir, (base / spec.catalogue).resolve() if spec.catalogue else None)
        parsers = {name: source.parser(name) for name, source in spec.sources.items()}
    except ConfigError as exc:
        report.errors += exc.problems
        return
    except ValueError as exc:
        report.errors.append(f"{doc.where(('sources',))}: {exc}")
        return
    coverage.track(str(rules_dir), ruleset)
    for index, scenario in enumerate(spec.scenarios):
        run = _Scenario(base, spec, scenario, ruleset, parsers, coverage, str(rules_dir))
        steps_of = ("scenarios", index, "steps")
        problems = await run.run(lambda step: doc.where((*steps_of, step)))  # noqa: B023
        if problems:
            where = doc.where(("scenarios", index))
            report.failures.append(CaseFailure(where, scenario.name, tuple(problems)))
        else:
            report.passed += 1


class _Scenario:
    def __init__(
        self,
        base: Path,
        spec: ScenarioFileSpec,
        scenario: ScenarioSpec,
        ruleset: CompiledRuleSet,
        parsers: dict[str, Parser],
        coverage: Coverage,
        rules_dir: str,
    ) -> None:
        self._base = base
        self._spec = spec
        self._scenario = scenario
        self._ruleset = ruleset
        self._parsers = parsers
        self._coverage = coverage
        self._rules_dir = rules_dir
        self._tick = scenario.tick or spec.tick

    async def run(self, where: Callable[[int], str]) -> list[str]:
        start = self._scenario.start or self._spec.start
        if start is None:
            return ['no "start" time: give one for the file or for the scenario']
        with tempfile.TemporaryDirectory(prefix="intake-scenario-") as scratch:
            db = Database(DatabaseSettings(f"sqlite://{scratch}/s.sqlite3", "normal"))
            await db.open()
            try:
                await migrate(db, scratch=True)
                return await self._steps(db, start, where)
            finally:
                await db.close()

    async def _steps(self, db: Database, now: datetime, where: Callable[[int], str]) -> list[str]:
        store = IncidentStore(db)
        jobs = PeriodicJobs(
            db=db,
            store=PeriodicStore(store),
            ruleset=lambda: self._ruleset,
            metrics=Metrics(),
            clock=lambda: now,
            interval_seconds=self._tick.total_seconds(),
        )
        actions = Actions(db)
        for number, step in enumerate(self._scenario.steps):
            later = step.moved(now)
            if later < now:
                return [f"{where(number)}: step {number + 1} goes back in time to {later}"]
            await self._tick_until(jobs, now, later, step.tick or self._tick)
            now = later
            try:
                decisions = await self._act(step, db, store, actions, number, now)
            except (ParseError, ValueError, OSError, ActionRefused) as exc:
                return [f"{where(number)}: step {number + 1} at {now.isoformat()}: {exc}"]
            for decision in decisions:
                self._coverage.saw(self._rules_dir, decision)
            found = await _check(step, decisions)
            if found:
                at = f"{where(number)}: step {number + 1} at {now.isoformat()}"
                return [f"{at}: {problem}" for problem in found]
        return []

    async def _tick_until(
        self, jobs: PeriodicJobs, now: datetime, later: datetime, tick: timedelta
    ) -> None:
        """The periodic job at every tick after ``now`` up to ``later``, and at ``later``."""
        moment = now + tick
        while moment < later:
            await jobs.run_once(moment)
            moment += tick
        if later > now:
            await jobs.run_once(later)

    async def _act(
        self,
        step: StepSpec,
        db: Database,
        store: IncidentStore,
        actions: Actions,
        number: int,
        now: datetime,
    ) -> list[Decision]:
        if step.receive is not None:
            source = self._spec.sources.get(step.receive.source)
            if source is None:
                raise ValueError(f'unknown source "{step.receive.source}" (see "sources")')
            record = step.receive.record(self._base, source.kind, number + 1, now)
            events = self._parsers[step.receive.source].parse(record)
            async with db.transaction() as connection:
                return await store.judge(connection, self._ruleset, events, record.id, now)
        if step.silence is not None:
            silence = step.silence
            ends = now + silence.duration
            await actions.create_silence(
                NewSilence(silence.matchers, now, ends, _AUTHOR, silence.comment), now, None
            )
        for key, act in ((step.acknowledge, actions.acknowledge), (step.resolve, actions.resolve)):
            if key is not None and await act(key, _AUTHOR, "", now, None) is None:
                raise ValueError(f"there is no incident {key}")
        return []


async def _check(step: StepSpec, decisions: list[Decision]) -> list[str]:
    expect = step.expect
    problems: list[str] = []
    if expect.decisions is not None:
        got = [_DECISION.dump_python(decision, mode="json") for decision in decisions]
        problems += _compare_list(expect.decisions, got, "decisions")
    if expect.incidents is not None:
        problems += _compare_list(expect.incidents, await _incidents(), "incidents")
    return problems


def _compare_list(
    expected: list[dict[str, Any]], got: list[dict[str, Any]], what: str
) -> list[str]:
    if len(expected) != len(got):
        return [f"{what}: expected {len(expected)}, got {len(got)}: {got!r}"]
    return compare(expected, got, f"{what}.")


async def _incidents() -> list[dict[str, Any]]:
    found = []
    number = 1
    while (incident := await get_incident(number)) is not None:
        incident["timeline_kinds"] = [entry["kind"] for entry in incident["timeline"]]
        found.append(incident)
        number += 1
    return found
