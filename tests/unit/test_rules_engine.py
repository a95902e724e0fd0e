"""Rule order, continue, enrichment, catalogue mapping, priority, major, type and routes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from core.records import Severity
from rules.decision import IncidentType, Priority, State
from tests.unit.rules_support import NOW, event, mail_event, ruleset

CATALOGUE = """
assignment_groups:
  - name: web-team
  - name: net-team
  - name: desk
services:
  - {name: web, owner: wendy@example.org, assignment_group: web-team, critical: true}
  - {name: net, assignment_group: net-team}
cis:
  - {name: web1, aliases: [web1.example.org], service: web, environment: production}
  - {name: sw1, service: net, owner: sam@example.org}
  - {name: printer, service: web, assignment_group: desk}
"""


def test_stops_at_first_match_unless_continue(tmp_path: Path) -> None:
    loaded = ruleset(
        tmp_path,
        """
        rules:
          - {name: a, description: d, match: {kind: alertmanager}, set: {category: a},
             continue: true}
          - {name: b, description: d, match: {kind: alertmanager}, set: {category: b}}
          - {name: c, description: d, match: {kind: alertmanager}, set: {category: c}}
        """,
    )
    decision = loaded.evaluate(event(), State(), NOW)
    assert decision.matched_rules == ("a", "b")
    assert decision.incident.category == "b"  # later matches override


def test_non_matching_rules_are_skipped(tmp_path: Path) -> None:
    loaded = ruleset(
        tmp_path,
        """
        rules:
          - {name: zbx, description: d, match: {kind: zabbix}, set: {category: z}}
          - {name: am, description: d, match: {kind: alertmanager}, set: {category: am}}
        """,
    )
    assert loaded.evaluate(event(), State(), NOW).matched_rules == ("am",)


def test_set_fields_from_templates_and_literals(tmp_path: Path) -> None:
    loaded = ruleset(
        tmp_path,
        """
        rules:
          - name: enrich
            description: d
            set:
              title: "{labels.alertname} on {labels.instance|host}"
              service: shop
              ci: "{labels.instance|host}"
              environment: "{labels.env|default:production}"
              category: availability
              assignment_group: ops
              impact: 2
              urgency: 1
              type: service_request
        """,
    )
    fields = loaded.evaluate(event(), State(), NOW).incident
    assert fields.title == "HostDown on web1"
    assert (fields.service, fields.ci, fields.environment) == ("shop", "web1", "production")
    assert (fields.category, fields.assignment_group) == ("availability", "ops")
    assert (fields.impact, fields.urgency, fields.priority) == (2, 1, Priority.P1)
    assert fields.type is IncidentType.SERVICE_REQUEST


@pytest.mark.parametrize(
    ("resource", "labels", "ci", "service", "group", "owner"),
    [
        ("web1:9100", {}, "web1", "web", "web-team", "wendy@example.org"),
        (
            "x",
            {"instance": "WEB1.example.org:9100"},
            "web1",
            "web",
            "web-team",
            "wendy@example.org",
        ),
        ("sw1", {}, "sw1", "net", "net-team", "sam@example.org"),
        ("printer", {}, "printer", "web", "desk", "wendy@example.org"),
        ("unknown-host", {}, "unknown-host", "", "", ""),
    ],
)
def test_catalogue_mapping(
    tmp_path: Path,
    resource: str,
    labels: dict[str, str],
    ci: str,
    service: str,
    group: str,
    owner: str,
) -> None:
    loaded = ruleset(tmp_path, catalogue=CATALOGUE)
    fields = loaded.evaluate(event(resource=resource, labels=labels), State(), NOW).incident
    assert (fields.ci, fields.service, fields.assignment_group, fields.owner) == (
        ci,
        service,
        group,
        owner,
    )


def test_rules_can_match_on_catalogue_service_and_override_it(tmp_path: Path) -> None:
    loaded = ruleset(
        tmp_path,
        """
        rules:
          - name: web-to-shop-team
            description: d
            match: {service: web}
            set: {assignment_group: shop-team}
        """,
        CATALOGUE,
    )
    fields = loaded.evaluate(event(), State(), NOW).incident
    assert (fields.service, fields.assignment_group) == ("web", "shop-team")


def test_a_rule_setting_ci_remaps_to_the_catalogue(tmp_path: Path) -> None:
    loaded = ruleset(
        tmp_path,
        """
        rules:
          - name: host-label
            description: the CI is in a label
            set: {ci: "{labels.host}"}
        """,
        CATALOGUE,
    )
    alert = event(resource="nothing", labels={"host": "sw1"})
    fields = loaded.evaluate(alert, State(), NOW).incident
    assert (fields.ci, fields.service, fields.assignment_group) == ("sw1", "net", "net-team")
    assert loaded.lookup(alert, NOW).ci == "sw1"


MATRIX = """
priority_matrix:
  1: [P1, P1, P1, P1]
  2: [P2, P2, P2, P2]
  3: [P3, P3, P3, P3]
  4: [P4, P4, P4, P4]
"""


@pytest.mark.parametrize(
    ("actions", "priority"),
    [
        ({}, Priority.P4),  # low severity: impact 4
        ({"set": {"impact": 2}}, Priority.P2),
        ({"priority": "P1"}, Priority.P1),
        ({"raise_priority": "P2"}, Priority.P2),
        ({"set": {"impact": 1}, "raise_priority": "P3"}, Priority.P1),  # never lowered
    ],
)
def test_priority_from_matrix_set_and_raise(
    tmp_path: Path, actions: dict[str, object], priority: Priority
) -> None:
    rule = json.dumps({"name": "r", "description": "d", **actions})
    loaded = ruleset(tmp_path, f"{MATRIX}\nrules:\n  - {rule}\n")
    decision = loaded.evaluate(event(severity=Severity.LOW), State(), NOW)
    assert decision.incident.priority is priority


@pytest.mark.parametrize(
    ("settings", "severity", "resource", "major"),
    [
        ("major: {priority_at_least: P1, critical_service: true}", Severity.CRITICAL, "web1", True),
        ("major: {priority_at_least: P1, critical_service: true}", Severity.CRITICAL, "sw1", False),
        ("major: {priority_at_least: P1, critical_service: true}", Severity.HIGH, "web1", False),
        ("major: {event_count_over: 0}", Severity.LOW, "sw1", True),
        ("close_after: 3d", Severity.CRITICAL, "web1", False),
    ],
)
def test_major_policy(
    tmp_path: Path, settings: str, severity: Severity, resource: str, major: bool
) -> None:
    loaded = ruleset(tmp_path, f"settings:\n  {settings}\n", CATALOGUE)
    decision = loaded.evaluate(event(severity=severity, resource=resource), State(), NOW)
    assert decision.incident.major is major


def test_major_by_rule(tmp_path: Path) -> None:
    loaded = ruleset(tmp_path, "rules:\n  - {name: m, description: d, major: true}\n")
    assert loaded.evaluate(event(severity=Severity.LOW), State(), NOW).incident.major


def test_routes_from_rules_else_defaults(tmp_path: Path) -> None:
    loaded = ruleset(
        tmp_path,
        """
        settings: {default_routes: [desk-mail]}
        rules:
          - {name: a, description: d, match: {severity: critical}, routes: [pager, chat],
             continue: true}
          - {name: b, description: d, match: {severity: critical}, routes: [chat, jira]}
        """,
    )
    critical = loaded.evaluate(event(severity=Severity.CRITICAL), State(), NOW)
    assert critical.routes == ("pager", "chat", "jira")
    assert loaded.evaluate(event(), State(), NOW).routes == ("desk-mail",)


def test_ignore_rule_stores_without_incident(tmp_path: Path) -> None:
    from rules.decision import EventOutcome, IncidentAction

    loaded = ruleset(
        tmp_path,
        "rules:\n  - {name: noise, description: d, match: {severity: info}, ignore: true}\n",
    )
    decision = loaded.evaluate(event(severity=Severity.INFO), State(), NOW)
    assert (decision.outcome, decision.action, decision.routes) == (
        EventOutcome.IGNORED,
        IncidentAction.NONE,
        (),
    )


def test_a_mailbox_default_type_starts_the_incident_type(tmp_path: Path) -> None:
    rules = ruleset(tmp_path)
    request = mail_event(subject="Please reset my password")
    request = replace(request, labels={**request.labels, "incident_type": "service_request"})
    decision = rules.evaluate(request, State(), NOW)
    assert decision.incident.type is IncidentType.SERVICE_REQUEST
    odd = replace(request, labels={"incident_type": "nonsense"})
    assert rules.evaluate(odd, State(), NOW).incident.type is IncidentType.INCIDENT
