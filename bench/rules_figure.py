"""Rule evaluation as a figure: ``evaluate()`` calls per second on 200 rules, with
p50/p99 per call; the rule set, events and states are those of ``bench.rules_bench``.

Run as a process: ``python -m bench.rules_figure EVALUATIONS`` (see ``bench.child``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from bench.child import emit
from bench.common import figure
from bench.rules_bench import NOW, build, events, states
from rules.loader import load_ruleset


def main() -> None:
    evaluations = int(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        rules_dir = build(Path(tmp))
        ruleset = load_ruleset(rules_dir, Path(tmp) / "catalogue.yaml")
    pool, situations = events(), states()
    for event in pool:  # warm up caches (regexes, CEL)
        ruleset.evaluate(event, situations[0], NOW)
    samples = []
    began = time.perf_counter()
    for step in range(evaluations):
        started = time.perf_counter()
        ruleset.evaluate(pool[step % len(pool)], situations[step % len(situations)], NOW)
        samples.append(time.perf_counter() - started)
    elapsed = time.perf_counter() - began
    emit(figure(f"{len(ruleset.rules)} rules", evaluations, elapsed, samples, 0, 0))


if __name__ == "__main__":
    main()
