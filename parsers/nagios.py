"""Nagios and Icinga (1 and 2) notifications posted by an HTTP notification command.

The command posts the notification macros as a form
(``application/x-www-form-urlencoded``, e.g. ``curl --data-urlencode``) or as
a JSON object. Field names are matched ignoring case, ``_`` and ``.``, so
Nagios macro names (``HOSTNAME``, ``SERVICEDESC``, ``NOTIFICATIONTYPE``),
lower-case names (``host_name``, ``service_description``) and Icinga 2
names (``host.name``, ``service.name``, ``notification.type``, also nested:
``{"host": {"name": ...}}``) all work. A body that starts with ``{`` or
``[`` is JSON whatever its content type: ``curl -d '{...}'`` labels JSON
as a form.

Decisions:

- A notification is about a service when it names one (Nagios sends an
  empty ``SERVICEDESC`` for host notifications), else about the host.
- State decides severity: CRITICAL and DOWN critical; UNKNOWN and
  UNREACHABLE high (the check cannot tell, so assume it is bad); WARNING
  medium; OK and UP info. Others (PENDING) get ``default_severity``; the
  original is kept in ``original_severity``.
- Status: ``RECOVERY``, or a state of OK or UP, resolves; anything else fires.
  ``ACKNOWLEDGEMENT`` fires with ``acknowledged=true``, ``FLAPPINGSTART`` with
  ``flapping=true``, ``DOWNTIMESTART`` with ``downtime=true``, so rules can act
  on them. Unknown notification types are accepted and kept as a label.
- Fingerprint ``nagios:<host>:<service or HOST>``, so the recovery resolves
  what the problem opened.
- Time: ``TIMET`` (epoch seconds) when posted, as it is exact; else
  ``LONGDATETIME`` in Icinga 2's ``2024-05-03 10:00:00 +0200``, ISO 8601 or
  Nagios' ``Fri May 3 10:00:00 CEST 2024``. Nagios' zone abbreviation has no
  single meaning, so such times are read in the ``timezone`` option (UTC and
  GMT excepted).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import parse_qsl

from pydantic import Field

from core.errors import ParseError
from core.records import Event, EventStatus, IntakeRecord, Severity
from parsers.base import (
    DESCRIPTION_LIMIT,
    NAME_LIMIT,
    SUMMARY_LIMIT,
    SeverityOptions,
    decode_json,
    missing_field,
    require_object,
    scalar_text,
    with_meta_labels,
    wrong_type,
)
from parsers.times import TimeZoneName, as_utc, iso_datetime, zone_named

MAX_FORM_FIELDS = 1000
HOST_CHECK = "HOST"

# Each field the parser reads, with its accepted names in normalized form
# (lower case, without "_", "." or "$").
FIELD_NAMES: Mapping[str, tuple[str, ...]] = {
    "notification_type": ("notificationtype",),
    "host": ("hostname", "host"),
    "host_display_name": ("hostdisplayname", "hostalias"),
    "host_address": ("hostaddress", "address"),
    "host_state": ("hoststate",),
    "host_output": ("hostoutput",),
    "long_host_output": ("longhostoutput",),
    "service": ("servicedesc", "servicedescription", "servicename", "service"),
    "service_display_name": ("servicedisplayname",),
    "service_state": ("servicestate",),
    "service_output": ("serviceoutput",),
    "long_service_output": ("longserviceoutput",),
    "timet": ("timet", "icingatimet"),
    "long_date_time": ("longdatetime", "icingalongdatetime"),
    "author": ("notificationauthor", "notificationauthorname"),
    "comment": ("notificationcomment",),
}

STATE_SEVERITIES: Mapping[str, Severity] = {
    "critical": Severity.CRITICAL,
    "down": Severity.CRITICAL,
    "unknown": Severity.HIGH,
    "unreachable": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "ok": Severity.INFO,
    "up": Severity.INFO,
}
_RESOLVED_STATES = frozenset({"OK", "UP"})

# Notification types that put a flag on the event, for the rules.
_TYPE_FLAGS: Mapping[str, str] = {
    "ACKNOWLEDGEMENT": "acknowledged",
    "FLAPPINGSTART": "flapping",
    "DOWNTIMESTART": "downtime",
}

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
# Nagios' LONGDATETIME: "Fri May 3 10:00:00 CEST 2024".
_NAGIOS_TIME = re.compile(
    r"[A-Za-z]{3}\s+(?P<month>[A-Za-z]{3})\s+(?P<day>\d{1,2})\s+"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2}):(?P<second>\d{2})\s+(?P<zone>\S+)\s+(?P<year>\d{4})"
)
_ACCEPTED_TIMES = "'2024-05-03 10:00:00 +0200', ISO 8601 or 'Fri May 3 10:00:00 CEST 2024'"


class NagiosOptions(SeverityOptions):
    """Options of a ``kind: nagios`` integration (Nagios, Icinga 1 and 2)."""

    timezone: TimeZoneName = Field(
        default="UTC",
        description="time zone for LONGDATETIME values whose zone is an abbreviation",
    )


def _normalized_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _flattened(body: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted names: {"host": {"name": x}} -> {"host.name": x}."""
    flat: dict[str, Any] = {}
    for key, value in body.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(_flattened(value, name))
        else:
            flat[name] = value
    return flat


def _form_fields(raw: bytes) -> dict[str, Any]:
    """An urlencoded form as fields; the first of repeated names wins."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(
            "invalid_form", f"form body is not UTF-8 text: bad byte at offset {exc.start}"
        ) from exc
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except UnicodeDecodeError as exc:
        raise ParseError(
            "invalid_form", f"a percent-encoded form value is not UTF-8: {exc.reason}"
        ) from exc
    except ValueError as exc:  # only raised for too many fields
        raise ParseError(
            "invalid_form", f"form has more than {MAX_FORM_FIELDS} fields: {exc}"
        ) from exc
    fields: dict[str, Any] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _body_fields(record: IntakeRecord) -> dict[str, Any]:
    """The posted fields, from JSON or a form."""
    stripped = record.raw.lstrip()
    if stripped[:1] in (b"{", b"[") or "json" in record.meta.get("content_type", ""):
        return _flattened(require_object(decode_json(record.raw)))
    if not stripped:
        raise ParseError("invalid_form", "body is empty; expected form fields or a JSON object")
    return _form_fields(record.raw)


class _Notification:
    """The fields of one notification, looked up by any accepted name."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields: dict[str, tuple[str, Any]] = {}
        for name, value in fields.items():
            self._fields.setdefault(_normalized_name(name), (name, value))

    def text(self, field: str) -> str:
        for name in FIELD_NAMES[field]:
            found = self._fields.get(name)
            if found is not None:
                text = scalar_text(found[1], found[0]).strip()
                if text:
                    return text
        return ""

    def name_of(self, field: str) -> str:
        """The name to show in a message: the one posted, else the macro name."""
        for name in FIELD_NAMES[field]:
            if name in self._fields:
                return self._fields[name][0]
        return field.upper()


class NagiosParser:
    """``kind: nagios``: Nagios and Icinga HTTP notifications, form or JSON."""

    def __init__(self, options: NagiosOptions) -> None:
        self._options = options
        self._severity = options.severity_scale(STATE_SEVERITIES)
        self._zone: tzinfo = zone_named(options.timezone)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> NagiosParser:
        return cls(NagiosOptions.model_validate(dict(options)))

    def parse(self, record: IntakeRecord) -> list[Event]:
        notification = _Notification(_body_fields(record))
        host = notification.text("host")
        if not host:
            raise missing_field("HOSTNAME", " (or host_name, host.name)")
        return [self._event(notification, host, record)]

    def _event(self, notification: _Notification, host: str, record: IntakeRecord) -> Event:
        service = notification.text("service")
        prefix = "service" if service else "host"
        state = notification.text(f"{prefix}_state").upper()
        notification_type = notification.text("notification_type").upper()
        if not state and not notification_type:
            raise missing_field(
                "SERVICESTATE" if service else "HOSTSTATE", " (and there is no NOTIFICATIONTYPE)"
            )
        output = notification.text(f"{prefix}_output")
        # Nagios passes long output with each newline escaped as backslash-n.
        long_output = notification.text(f"long_{prefix}_output").replace("\\n", "\n")
        return Event(
            source=record.source,
            kind="nagios",
            name=(service or HOST_CHECK)[:NAME_LIMIT],
            resource=host[:NAME_LIMIT],
            severity=self._severity.of(state),
            status=_status(notification_type, state),
            summary=_summary(host, service, state or notification_type, output)[:SUMMARY_LIMIT],
            description="\n".join(filter(None, (output, long_output)))[:DESCRIPTION_LIMIT],
            occurred_at=self._occurred_at(notification) or record.received_at,
            labels=_labels(notification, notification_type, state, service),
            annotations=_annotations(notification),
            fingerprint=f"nagios:{host}:{service or HOST_CHECK}",
        )

    def _occurred_at(self, notification: _Notification) -> datetime | None:
        timet = notification.text("timet")
        if timet:
            return _epoch_time(timet, notification.name_of("timet"))
        long_date_time = notification.text("long_date_time")
        if not long_date_time:
            return None
        parsed = _long_date_time(long_date_time, self._zone)
        if parsed is None:
            raise wrong_type(
                notification.name_of("long_date_time"), _ACCEPTED_TIMES, long_date_time
            )
        return parsed


def _status(notification_type: str, state: str) -> EventStatus:
    if notification_type == "RECOVERY" or state in _RESOLVED_STATES:
        return EventStatus.RESOLVED
    return EventStatus.FIRING


def _summary(host: str, service: str, state: str, output: str) -> str:
    """One line: "HTTP on web01 is CRITICAL: <first line of output>"."""
    subject = f"{service} on {host}" if service else f"Host {host}"
    first_line = output.splitlines()[0] if output else ""
    return f"{subject} is {state}: {first_line}" if first_line else f"{subject} is {state}"


def _labels(
    notification: _Notification, notification_type: str, state: str, service: str
) -> dict[str, str]:
    labels = with_meta_labels({}, state, truncated=False)
    if notification_type:
        labels["notification_type"] = notification_type.lower()
    flag = _TYPE_FLAGS.get(notification_type)
    if flag:
        labels[flag] = "true"
    host_address = notification.text("host_address")
    if host_address:
        labels["host_address"] = host_address[:NAME_LIMIT]
    host_state = notification.text("host_state").upper()
    if service and host_state:
        labels["host_state"] = host_state
    return labels


def _annotations(notification: _Notification) -> dict[str, str]:
    found = {
        field: notification.text(field)[:DESCRIPTION_LIMIT]
        for field in ("host_display_name", "service_display_name", "author", "comment")
    }
    return {field: value for field, value in found.items() if value}


def _epoch_time(text: str, name: str) -> datetime:
    if not text.isdigit():
        raise wrong_type(name, "epoch seconds", text)
    try:
        return datetime.fromtimestamp(int(text), tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise wrong_type(name, "epoch seconds", text) from exc


def _long_date_time(text: str, zone: tzinfo) -> datetime | None:
    """Icinga 2's, ISO 8601 or Nagios' LONGDATETIME in UTC; None when unreadable."""
    parsed = _icinga_time(text) or iso_datetime(text) or _nagios_time(text, zone)
    return as_utc(parsed) if parsed else None


def _icinga_time(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return None


def _nagios_time(text: str, zone: tzinfo) -> datetime | None:
    match = _NAGIOS_TIME.fullmatch(text.strip())
    month = _MONTHS.get(match["month"].lower()) if match else None
    if match is None or month is None:
        return None
    if match["zone"].upper() in ("UTC", "GMT", "Z"):
        zone = UTC
    fields = (match["year"], match["day"], match["hour"], match["minute"], match["second"])
    year, day, hour, minute, second = (int(field) for field in fields)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return None
