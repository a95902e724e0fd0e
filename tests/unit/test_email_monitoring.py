"""Nagios/Icinga and Zabbix notification mail: the alert it carries, and its recovery."""

from __future__ import annotations

import pytest

from core.records import EventStatus, MailKind, Severity
from parsers.mail.monitoring import MonitoringAlert, recognize
from tests.unit.test_email_support import facts, fixture, mail, parse

ZABBIX_BODY = "Host: app-01\nSeverity: Disaster\nOriginal problem ID: 7\n"


@pytest.mark.parametrize(
    ("problem", "recovery", "resource", "name", "severity", "fingerprint"),
    [
        (
            "nagios_problem",
            "nagios_recovery",
            "web01",
            "HTTP",
            Severity.CRITICAL,
            "nagios:web01:HTTP",
        ),
        (
            "zabbix_problem",
            "zabbix_resolved",
            "app-server-01",
            "High CPU utilization (over 90% for 5m)",
            Severity.HIGH,
            "zabbix:event:48213",
        ),
    ],
)
def test_a_recovery_mail_resolves_its_problem_mail(
    problem: str,
    recovery: str,
    resource: str,
    name: str,
    severity: Severity,
    fingerprint: str,
) -> None:
    fired, resolved = parse(fixture(problem)), parse(fixture(recovery))

    assert (fired.resource, fired.name, fired.severity) == (resource, name, severity)
    assert (fired.status, resolved.status) == (EventStatus.FIRING, EventStatus.RESOLVED)
    assert fired.fingerprint == resolved.fingerprint == fingerprint
    assert (resolved.resource, resolved.name) == (resource, name)
    assert facts(fired).kind is facts(resolved).kind is MailKind.MONITORING


def test_monitoring_labels_keep_the_tool_and_its_own_words() -> None:
    event = parse(fixture("zabbix_resolved"))

    assert dict(event.labels) == {
        "mail_kind": "monitoring",
        "charset": "utf-8",
        "monitoring_tool": "zabbix",
        "notification_type": "recovery",
        "original_severity": "High",
    }
    assert event.summary == "Resolved in 5m 0s: High CPU utilization (over 90% for 5m)"
    assert event.description.startswith("Problem has been resolved at 10:05:00 on 2026.11.20")


@pytest.mark.parametrize(
    ("name", "alert"),
    [
        (
            "nagios_host_down",
            MonitoringAlert(
                "nagios",
                "db02",
                "HOST",
                EventStatus.FIRING,
                Severity.CRITICAL,
                "DOWN",
                "problem",
                "nagios:db02:HOST",
            ),
        ),
        (
            "icinga2_problem",
            MonitoringAlert(
                "icinga",
                "app03",
                "disk /var",
                EventStatus.FIRING,
                Severity.MEDIUM,
                "WARNING",
                "problem",
                "nagios:app03:disk /var",
            ),
        ),
    ],
)
def test_host_and_icinga_notifications(name: str, alert: MonitoringAlert) -> None:
    event = parse(fixture(name))

    assert (event.resource, event.name, event.status) == (alert.host, alert.check, alert.status)
    assert (event.severity, event.fingerprint) == (alert.severity, alert.fingerprint)


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        (
            "** PROBLEM Service Alert: w1/Disk /var is WARNING **",
            "",
            "nagios|w1|Disk /var|firing|medium",
        ),
        ("** RECOVERY Host Alert: db2 is UP **", "", "nagios|db2|HOST|resolved|info"),
        ("** PROBLEM Service Alert: w1/HTTP is UNKNOWN **", "", "nagios|w1|HTTP|firing|high"),
        ("** PROBLEM Host Alert: sw1 is UNREACHABLE **", "", "nagios|sw1|HOST|firing|high"),
        (
            "** ACKNOWLEDGEMENT Service Alert: w1/X is CRITICAL **",
            "",
            "nagios|w1|X|firing|critical",
        ),
        ("[RECOVERY] HTTP on w1 is OK!", "", "icinga|w1|HTTP|resolved|info"),
        ("[PROBLEM] Host db2 is DOWN!", "", "icinga|db2|HOST|firing|critical"),
        ("Problem: Disk full", ZABBIX_BODY, "zabbix|app-01|Disk full|firing|critical"),
        ("Resolved: Disk full", ZABBIX_BODY, "zabbix|app-01|Disk full|resolved|critical"),
        ("Resolved in 1h 2m: Disk full", ZABBIX_BODY, "zabbix|app-01|Disk full|resolved|critical"),
    ],
)
def test_recognized_notifications(subject: str, body: str, expected: str) -> None:
    """``expected`` is tool|host|check|status|severity."""
    alert = recognize(subject, body)

    assert alert is not None
    assert "|".join((alert.tool, alert.host, alert.check, alert.status, alert.severity)) == expected


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Problem: the printer is broken", "Please help, it is urgent.\n"),
        ("Problem: x", "Host: app-01\n"),  # a host, but nothing Zabbix says about its problem
        ("** PROBLEM Service Alert: no-slash is CRITICAL **", ""),
        ("** PROBLEM Service Alert: web01/HTTP is PURPLE **", ""),
        ("Re: ** PROBLEM Service Alert: web01/HTTP is CRITICAL **", ""),
        ("[PROBLEM] something", ""),
    ],
)
def test_look_alikes_are_not_notifications(subject: str, body: str) -> None:
    assert recognize(subject, body) is None


def test_zabbix_without_a_problem_id_is_fingerprinted_by_host_and_name() -> None:
    alert = recognize("Problem: Disk full", "Host: app-01\nProblem name: Disk full on /\n")

    assert alert is not None
    assert (alert.check, alert.fingerprint) == ("Disk full on /", "zabbix:app-01:Disk full on /")
    assert alert.severity is Severity.MEDIUM  # no Severity line: the middle of the scale


def test_a_person_writing_problem_in_the_subject_is_a_new_mail() -> None:
    event = parse(mail(subject="Problem: the printer is broken"))

    assert facts(event).kind is MailKind.NEW
    assert event.fingerprint == ""


@pytest.mark.parametrize(
    ("options", "kind"),
    [
        ({}, MailKind.MONITORING),
        ({"monitoring_senders": ["nagios@monitor.corp.example"]}, MailKind.MONITORING),
        ({"monitoring_senders": ["NAGIOS@Monitor.Corp.Example"]}, MailKind.MONITORING),
        ({"monitoring_senders": ["zabbix@monitor.corp.example"]}, MailKind.NEW),
        ({"detect_monitoring": False}, MailKind.NEW),
    ],
)
def test_monitoring_recognition_options(options: dict[str, object], kind: MailKind) -> None:
    event = parse(fixture("nagios_problem"), options)

    assert facts(event).kind is kind
    assert (event.resource == "web01") is (kind is MailKind.MONITORING)
