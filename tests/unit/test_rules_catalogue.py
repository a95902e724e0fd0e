"""The service catalogue: lookups, ancestors, and its load errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.yamldoc import Problems
from rules.catalogue import load_catalogue
from tests.unit.rules_support import write

GOOD = """
assignment_groups: [{name: ops}]
services:
  - {name: web, assignment_group: ops, owner: o@example.org, critical: true}
cis:
  - {name: sw1}
  - {name: web1, aliases: [web1.example.org, 10.0.0.1], service: web, depends_on: [sw1]}
  - {name: app1, depends_on: [web1]}
"""


def test_lookup_by_name_alias_case_and_port(tmp_path: Path) -> None:
    problems = Problems()
    catalogue = load_catalogue(write(tmp_path, "c.yaml", GOOD), problems)
    assert not problems
    for name in ("web1", "WEB1.example.org", "10.0.0.1:9100", "web1:80"):
        found = catalogue.find_ci([None, "", name])
        assert found is not None and found.name == "web1"
    assert catalogue.find_ci(["nothing"]) is None


def test_ci_inherits_group_and_owner_from_service(tmp_path: Path) -> None:
    catalogue = load_catalogue(write(tmp_path, "c.yaml", GOOD), Problems())
    web1 = catalogue.cis["web1"]
    assert (web1.service, web1.assignment_group, web1.owner) == ("web", "ops", "o@example.org")
    assert catalogue.is_critical("web") and not catalogue.is_critical("nope")


def test_ancestors_nearest_first(tmp_path: Path) -> None:
    catalogue = load_catalogue(write(tmp_path, "c.yaml", GOOD), Problems())
    assert catalogue.ancestors("app1") == ("web1", "sw1")
    assert catalogue.ancestors("unknown") == ()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("cis:\n  - {name: a, service: nope}\n", 2, 'service "nope" is not defined'),
        ("cis:\n  - {name: a, depends_on: [b]}\n", 2, 'CI "b" is not defined'),
        ("cis:\n  - {name: a}\n  - {name: a}\n", 3, 'CI "a" is defined twice'),
        ("cis:\n  - {name: a}\n  - name: b\n    aliases: [A]\n", 4, '"A" already names CI "a"'),
        (
            "cis:\n  - {name: a, depends_on: [b]}\n  - {name: b, depends_on: [a]}\n",
            2,
            'CI "a" depends on itself',
        ),
        (
            "assignment_groups: [{name: ops}]\nservices:\n  - {name: s, assignment_group: dev}\n",
            3,
            'assignment group "dev" is not defined',
        ),
        ("cis:\n  - {name: a, colour: red}\n", 2, 'unknown setting "colour"'),
        ("cis: [\n", 2, "YAML syntax error"),
    ],
)
def test_catalogue_problems(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, "catalogue.yaml", text)
    problems = Problems()
    load_catalogue(path, problems)
    assert any(
        problem.startswith(f"{path}:{line}: ") and message in problem for problem in problems
    ), problems.as_list()


def test_groups_are_free_text_when_none_are_listed(tmp_path: Path) -> None:
    problems = Problems()
    load_catalogue(
        write(tmp_path, "c.yaml", "services: [{name: s, assignment_group: x}]\n"), problems
    )
    assert not problems
