"""Nagios/Icinga and Zabbix notification mail, recognised by subject (and body).

States and severities map as in the HTTP parsers of the same tools. The
fingerprint is shared by a problem mail and its recovery mail, so the
recovery resolves the problem: ``nagios:<host>:<service>`` as the Nagios
parser makes it, and ``zabbix:event:<problem id>`` as the Zabbix parser does
with ``fingerprint_by: event``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice

from core.records import EventStatus, Severity
from parsers.nagios import HOST_CHECK, STATE_SEVERITIES
from parsers.zabbix import ZABBIX_SEVERITIES

_SUBJECT_READ = 512
_BODY_LINES_READ = 100
_LINE_READ = 1000

# Nagios and Icinga 1: "** PROBLEM Service Alert: web01/HTTP is CRITICAL **".
_NAGIOS = re.compile(
    r"^\*\*\s*(?P<type>[A-Z]+)\s+(?P<scope>Service|Host)\s+Alert:\s*(?P<target>.+?)"
    r"\s+is\s+(?P<state>[A-Z]+)\s*\*\*$",
    re.IGNORECASE,
)
# Icinga 2: "[PROBLEM] HTTP on web01 is CRITICAL!" and "[RECOVERY] Host web01 is UP!".
_ICINGA_HOST = re.compile(
    r"^\[(?P<type>[A-Z]+)\]\s+Host\s+(?P<host>.+?)\s+is\s+(?P<state>[A-Z]+)!?$", re.IGNORECASE
)
_ICINGA_SERVICE = re.compile(
    r"^\[(?P<type>[A-Z]+)\]\s+(?P<service>.+)\s+on\s+(?P<host>.+?)\s+is\s+(?P<state>[A-Z]+)!?$",
    re.IGNORECASE,
)
# Zabbix default media type templates: "Problem: <name>", "Resolved in 5m: <name>".
_ZABBIX_PROBLEM = re.compile(r"^Problem:\s*(?P<name>.+)$", re.IGNORECASE)
_ZABBIX_RESOLVED = re.compile(r"^Resolved(?:\s+in\s+[^:]{1,40})?:\s*(?P<name>.+)$", re.IGNORECASE)
_FIELD_LINE = re.compile(r"^\s*(?P<key>[A-Za-z][A-Za-z ]{0,40}?)\s*:(?P<value>.*)$")

_NAGIOS_RESOLVED_STATES = frozenset({"ok", "up"})


@dataclass(frozen=True, slots=True)
class MonitoringAlert:
    tool: str  # "nagios", "icinga" or "zabbix"
    host: str
    check: str  # service or trigger name; HOST_CHECK for a host notification
    status: EventStatus
    severity: Severity
    original_severity: str
    notification_type: str  # lower case: "problem", "recovery", "acknowledgement", ...
    fingerprint: str


def recognize(subject: str, body: str) -> MonitoringAlert | None:
    """The alert a notification mail carries, or None when it is not one."""
    subject = subject[:_SUBJECT_READ]  # the patterns backtrack: bound their input
    return _nagios(subject) or _icinga(subject) or _zabbix(subject, body)


def _nagios(subject: str) -> MonitoringAlert | None:
    match = _NAGIOS.match(subject)
    if match is None:
        return None
    host, check = match["target"], HOST_CHECK
    if match["scope"].lower() == "service":
        host, slash, service = match["target"].partition("/")
        if not slash or not host or not service:
            return None
        check = service
    return _nagios_alert("nagios", match["type"], host, check, match["state"])


def _icinga(subject: str) -> MonitoringAlert | None:
    match = _ICINGA_HOST.match(subject)
    if match is not None:
        return _nagios_alert("icinga", match["type"], match["host"], HOST_CHECK, match["state"])
    match = _ICINGA_SERVICE.match(subject)
    if match is not None:
        return _nagios_alert(
            "icinga", match["type"], match["host"], match["service"], match["state"]
        )
    return None


def _nagios_alert(
    tool: str, notification_type: str, host: str, check: str, state: str
) -> MonitoringAlert | None:
    severity = STATE_SEVERITIES.get(state.lower())
    if severity is None:
        return None
    kind = notification_type.lower()
    resolved = kind == "recovery" or state.lower() in _NAGIOS_RESOLVED_STATES
    host, check = host.strip(), check.strip()
    return MonitoringAlert(
        tool=tool,
        host=host,
        check=check,
        status=EventStatus.RESOLVED if resolved else EventStatus.FIRING,
        severity=severity,
        original_severity=state.upper(),
        notification_type=kind,
        fingerprint=f"nagios:{host}:{check}",
    )


def _zabbix(subject: str, body: str) -> MonitoringAlert | None:
    """Zabbix by subject, confirmed by the body: "Problem: ..." alone could be a person."""
    problem = _ZABBIX_PROBLEM.match(subject)
    resolved = _ZABBIX_RESOLVED.match(subject)
    match = problem or resolved
    if match is None:
        return None
    fields = _body_fields(body)
    host = fields.get("host", "")
    problem_id = fields.get("original problem id", "")
    if not host or not (problem_id or "problem name" in fields):
        return None
    name = fields.get("problem name") or match["name"].strip()
    severity_word = fields.get("severity", "")
    fingerprint = f"zabbix:event:{problem_id}" if problem_id else f"zabbix:{host}:{name}"
    return MonitoringAlert(
        tool="zabbix",
        host=host,
        check=name,
        status=EventStatus.FIRING if problem else EventStatus.RESOLVED,
        severity=ZABBIX_SEVERITIES.get(severity_word.lower(), Severity.MEDIUM),
        original_severity=severity_word,
        notification_type="problem" if problem else "recovery",
        fingerprint=fingerprint,
    )


def _body_fields(body: str) -> dict[str, str]:
    """'Key: value' lines of a notification body, first occurrence, keys in lower case."""
    fields: dict[str, str] = {}
    for line in islice(body.splitlines(), _BODY_LINES_READ):
        match = _FIELD_LINE.match(line[:_LINE_READ])
        value = match["value"].strip() if match else ""
        if match and value:
            fields.setdefault(match["key"].lower(), value)
    return fields
