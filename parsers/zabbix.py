"""Zabbix webhook media type: the JSON object its script posts, one event per post.

Zabbix has no fixed webhook schema: an admin names the parameters of the
media type and its script posts them (usually ``JSON.stringify(params)``).
This parser reads the names used by Zabbix's shipped media-type scripts, with
a few common variants built in and more from the ``aliases`` option:

``event_id`` (or ``eventid``, required), ``event_value`` ("1" problem, "0"
recovery), ``event_update_status`` ("1": an acknowledgement, comment or
other update), ``event_severity`` (Not classified/Information/Warning/
Average/High/Disaster) and ``event_nseverity`` (0-5), ``trigger_id``,
``trigger_name`` / ``event_name``, ``host_name`` (or ``host``), ``host_ip``,
``event_tags`` (``{EVENT.TAGSJSON}`` text, an array of ``{tag, value}``, or
``{EVENT.TAGS}`` text "tag:value, tag:value"), ``event_date``/``event_time``,
``event_recovery_date``/``_time``, ``event_update_date``/``_time``,
``alert_subject``, ``alert_message``, ``zabbix_url``, ``event_opdata``.

Decisions:

- A macro Zabbix could not expand reaches us as its own text
  (``{EVENT.RECOVERY.ID}`` in a problem message) or as ``*UNKNOWN*``; such a
  value counts as absent.
- Status: an update (``event_update_status`` "1") is ``firing`` with label
  ``zabbix_update=true`` (the rule engine counts it as an occurrence);
  otherwise ``event_value`` decides. Without ``event_value``, a recovery id or
  recovery date means recovery, else problem.
- Severity follows the order of Zabbix's own scale (and of its shipped
  Opsgenie script): Disaster critical, High high, Average medium, Warning
  low, Information and Not classified info. The name is used when it is on
  the scale (``severity_map`` may add names); else the number, because admins
  can rename severities in Zabbix.
- Fingerprint ``zabbix:<trigger_id>:<host>`` (``fingerprint_by: trigger``, the
  default) so a recovery, which carries the problem's trigger, resolves it
  and a re-fire of the same trigger counts onto the same event; or
  ``zabbix:event:<event_id>`` (``fingerprint_by: event``, also the fallback
  without a trigger id): each problem its own event. Recovery messages carry
  the problem's ``{EVENT.ID}``, so both match.
- Dates have no zone in Zabbix's macros: they are read in ``timezone``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Literal

from pydantic import Field, field_validator

from core.errors import ParseError
from core.records import Event, EventStatus, IntakeRecord, Severity
from parsers.base import (
    DESCRIPTION_LIMIT,
    NAME_LIMIT,
    SEVERITY_WORDS,
    SUMMARY_LIMIT,
    LabelledOptions,
    LabelLimits,
    bounded_labels,
    decode_json,
    first_value,
    get_text,
    missing_field,
    require_object,
    scalar_text,
    with_meta_labels,
    wrong_type,
)
from parsers.times import TimeZoneName, as_utc, zone_named

# Each field the parser reads, with the payload names tried in order.
FIELD_NAMES: Mapping[str, tuple[str, ...]] = {
    "event_id": ("event_id", "eventid"),
    "event_value": ("event_value",),
    "event_update_status": ("event_update_status",),
    "event_severity": ("event_severity",),
    "event_nseverity": ("event_nseverity",),
    "event_recovery_id": ("event_recovery_id",),
    "trigger_id": ("trigger_id", "triggerid"),
    "trigger_name": ("trigger_name",),
    "event_name": ("event_name",),
    "host_name": ("host_name", "host", "hostname"),
    "host_ip": ("host_ip",),
    "event_tags": ("event_tags", "tags"),
    "event_date": ("event_date",),
    "event_time": ("event_time",),
    "event_recovery_date": ("event_recovery_date",),
    "event_recovery_time": ("event_recovery_time",),
    "event_update_date": ("event_update_date",),
    "event_update_time": ("event_update_time",),
    "event_update_action": ("event_update_action",),
    "event_update_message": ("event_update_message",),
    "event_update_user": ("event_update_user",),
    "alert_subject": ("alert_subject", "subject"),
    "alert_message": ("alert_message", "message"),
    "zabbix_url": ("zabbix_url",),
    "event_opdata": ("event_opdata",),
}

ZABBIX_SEVERITIES: Mapping[str, Severity] = {
    "not classified": Severity.INFO,
    "information": Severity.INFO,
    "warning": Severity.LOW,
    "average": Severity.MEDIUM,
    "high": Severity.HIGH,
    "disaster": Severity.CRITICAL,
    "0": Severity.INFO,
    "1": Severity.INFO,
    "2": Severity.LOW,
    "3": Severity.MEDIUM,
    "4": Severity.HIGH,
    "5": Severity.CRITICAL,
}

# A built-in ({EVENT.ID}), user ({$NAME}, {$NAME:context}) or LLD ({#NAME})
# macro left as is, or Zabbix's marker for a macro it could not resolve.
_UNEXPANDED = re.compile(r"\{[$#]?[A-Z][A-Z0-9_.]*(?::[^{}]*)?\}|\*UNKNOWN\*")

_DATE_FORMATS = ("%Y.%m.%d %H:%M:%S", "%Y-%m-%d %H:%M:%S")

_ANNOTATION_FIELDS: Mapping[str, str] = {
    "event_id": "event_id",
    "event_recovery_id": "recovery_event_id",
    "event_opdata": "operational_data",
    "event_update_action": "update_action",
    "event_update_message": "update_message",
    "event_update_user": "update_user",
}


class ZabbixOptions(LabelledOptions):
    """Options of a ``kind: zabbix`` integration."""

    aliases: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="more payload names per field, tried before the built-in ones, "
        "e.g. {event_id: [problem_id]}; fields: " + ", ".join(FIELD_NAMES),
    )
    fingerprint_by: Literal["trigger", "event"] = Field(
        default="trigger",
        description="'trigger': zabbix:<trigger_id>:<host>, re-fires count onto one event; "
        "'event': zabbix:event:<event_id>, each problem its own event",
    )
    timezone: TimeZoneName = Field(
        default="UTC", description="time zone of the Zabbix server, for its zone-less dates"
    )
    service_tag: str = Field(default="service", description="event tag holding the service")
    environment_tags: tuple[str, ...] = Field(
        default=("environment", "env"), description="event tags tried in order for the environment"
    )

    @field_validator("aliases")
    @classmethod
    def _known_fields(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        unknown = sorted(set(value) - set(FIELD_NAMES))
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELD_NAMES)}"
            )
        return value


def _is_absent(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        text = value.strip()
        return not text or _UNEXPANDED.fullmatch(text) is not None
    return False


class _Params:
    """The posted parameters, looked up by field under any of its names."""

    def __init__(self, body: Mapping[str, Any], names: Mapping[str, tuple[str, ...]]) -> None:
        self._body = body
        self._names = names

    def find(self, field: str) -> tuple[str, Any] | None:
        """The payload name and value of a field; None when absent everywhere."""
        for name in self._names[field]:
            value = self._body.get(name)
            if not _is_absent(value):
                return name, value
        return None

    def text(self, field: str) -> str:
        found = self.find(field)
        if found is None:
            return ""
        name, value = found
        return scalar_text(value, name).strip()

    def name_of(self, field: str) -> str:
        """The name to show in a message: the one in the payload, else the field's own."""
        found = self.find(field)
        return found[0] if found else field


@dataclass(frozen=True, slots=True)
class _Tags:
    labels: dict[str, str]  # bounded; the values of a repeated tag joined by ","
    first: dict[str, str]  # each tag's first value, for service and environment
    truncated: bool


class ZabbixParser:
    """``kind: zabbix``: the JSON a Zabbix webhook media type posts."""

    def __init__(self, options: ZabbixOptions) -> None:
        self._options = options
        self._names = {
            field: (*options.aliases.get(field, ()), *names) for field, names in FIELD_NAMES.items()
        }
        self._severity = options.severity_scale({**SEVERITY_WORDS, **ZABBIX_SEVERITIES})
        self._zone: tzinfo = zone_named(options.timezone)
        self._limits = LabelLimits(options.max_labels, options.max_label_length)
        self._read_tags = (options.service_tag, *options.environment_tags)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ZabbixParser:
        return cls(ZabbixOptions.model_validate(dict(options)))

    def parse(self, record: IntakeRecord) -> list[Event]:
        params = _Params(require_object(decode_json(record.raw)), self._names)
        event_id = params.text("event_id")
        if not event_id:
            names = ", ".join(self._names["event_id"])
            raise missing_field("event_id", f" (looked for: {names}; option 'aliases' adds names)")
        return [self._event(params, event_id, record)]

    def _event(self, params: _Params, event_id: str, record: IntakeRecord) -> Event:
        status, is_update = _status(params)
        tags = self._tags(params)
        severity, raw_severity = self._severity_of(params)
        host = params.text("host_name")
        trigger_id = params.text("trigger_id")
        name = (
            params.text("trigger_name")
            or params.text("event_name")
            or params.text("alert_subject")
            or f"Zabbix event {event_id}"
        )
        return Event(
            source=record.source,
            kind="zabbix",
            name=name[:NAME_LIMIT],
            resource=host[:NAME_LIMIT],
            severity=severity,
            status=status,
            summary=(params.text("alert_subject") or name)[:SUMMARY_LIMIT],
            description=params.text("alert_message")[:DESCRIPTION_LIMIT],
            service=tags.first.get(self._options.service_tag, ""),
            environment=first_value(tags.first, self._options.environment_tags),
            occurred_at=self._occurred_at(params, status, is_update) or record.received_at,
            labels=_labels(params, tags, raw_severity, is_update),
            annotations=_annotations(params),
            fingerprint=self._fingerprint(event_id, trigger_id, host),
            url=_url(params.text("zabbix_url"), trigger_id, event_id),
        )

    def _severity_of(self, params: _Params) -> tuple[Severity, str]:
        """The severity and the original value kept in labels."""
        name = params.text("event_severity")
        number = params.text("event_nseverity")
        for raw in (name, number):
            severity = self._severity.known(raw) if raw else None
            if severity is not None:
                return severity, name or number
        return self._options.default_severity, name or number

    def _tags(self, params: _Params) -> _Tags:
        found = params.find("event_tags")
        if found is None:
            return _Tags({}, {}, truncated=False)
        name, value = found
        grouped: dict[str, list[str]] = {}
        for tag, tag_value in _tag_pairs(value, name):
            # Zabbix allows one tag name several times (service:web, service:db).
            grouped.setdefault(tag, []).append(tag_value)
        joined = {tag: ",".join(values) for tag, values in grouped.items()}
        labels, truncated = bounded_labels(joined, name, self._limits, keep=self._read_tags)
        first = {tag: values[0][:NAME_LIMIT] for tag, values in grouped.items()}
        return _Tags(labels, first, truncated)

    def _occurred_at(
        self, params: _Params, status: EventStatus, is_update: bool
    ) -> datetime | None:
        if is_update:
            return self._time(params, "event_update_date", "event_update_time")
        if status is EventStatus.RESOLVED:
            return self._time(params, "event_recovery_date", "event_recovery_time")
        return self._time(params, "event_date", "event_time")

    def _time(self, params: _Params, date_field: str, time_field: str) -> datetime | None:
        date, clock = params.text(date_field), params.text(time_field)
        if not date or not clock:
            return None
        local = _local_time(f"{date} {clock}")
        in_utc = as_utc(local.replace(tzinfo=self._zone)) if local else None
        if in_utc is None:
            where = f"{params.name_of(date_field)}, {params.name_of(time_field)}"
            raise wrong_type(where, "Zabbix's 'YYYY.MM.DD' and 'HH:MM:SS'", f"{date} {clock}")
        return in_utc

    def _fingerprint(self, event_id: str, trigger_id: str, host: str) -> str:
        if self._options.fingerprint_by == "trigger" and trigger_id:
            return f"zabbix:{trigger_id}:{host}"
        return f"zabbix:event:{event_id}"


def _status(params: _Params) -> tuple[EventStatus, bool]:
    """The event's status, and whether the post is an update of a known problem."""
    update = params.text("event_update_status")
    if update not in ("", "0", "1"):
        raise wrong_type(params.name_of("event_update_status"), "'0' or '1'", update)
    if update == "1":
        return EventStatus.FIRING, True
    value = params.text("event_value")
    if value == "1":
        return EventStatus.FIRING, False
    if value == "0":
        return EventStatus.RESOLVED, False
    if value:
        raise wrong_type(params.name_of("event_value"), "'1' (problem) or '0' (recovery)", value)
    recovered = params.text("event_recovery_id") or params.text("event_recovery_date")
    return (EventStatus.RESOLVED if recovered else EventStatus.FIRING), False


def _local_time(text: str) -> datetime | None:
    for date_format in _DATE_FORMATS:
        try:
            return datetime.strptime(text, date_format)
        except ValueError:
            continue
    return None


def _tag_pairs(value: Any, path: str) -> list[tuple[str, str]]:
    """Tags from {EVENT.TAGSJSON} text, an array of {tag, value}, or {EVENT.TAGS} text."""
    if isinstance(value, str):
        if not value.lstrip().startswith("["):
            return _plain_tag_pairs(value)
        value = _tags_json(value, path)
    if not isinstance(value, list):
        raise wrong_type(path, "an array of {tag, value} objects or its JSON text", value)
    pairs = []
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, dict):
            raise wrong_type(where, "an object with 'tag' and 'value'", item)
        tag = get_text(item, "tag", where, required=True)
        pairs.append((tag, scalar_text(item.get("value"), f"{where}.value")))
    return pairs


def _tags_json(text: str, path: str) -> Any:
    try:
        return decode_json(text)
    except ParseError as exc:
        raise ParseError(
            "wrong_type", f"{path}: expected a JSON array of {{tag, value}} objects: {exc}"
        ) from exc


def _plain_tag_pairs(text: str) -> list[tuple[str, str]]:
    """``{EVENT.TAGS}``: "scope:availability, service:web"; a tag may lack a value."""
    pairs = []
    for item in text.split(","):
        tag, _, value = item.strip().partition(":")
        if tag:
            pairs.append((tag, value))
    return pairs


def _labels(params: _Params, tags: _Tags, raw_severity: str, is_update: bool) -> dict[str, str]:
    labels = with_meta_labels(tags.labels, raw_severity, tags.truncated)
    for field in ("trigger_id", "host_ip"):
        value = params.text(field)
        if value:
            labels[field] = value
    if is_update:
        labels["zabbix_update"] = "true"
    return labels


def _annotations(params: _Params) -> dict[str, str]:
    found = {name: params.text(field) for field, name in _ANNOTATION_FIELDS.items()}
    return {name: value for name, value in found.items() if value}


def _url(zabbix_url: str, trigger_id: str, event_id: str) -> str:
    """The problem's page in the Zabbix frontend, as Zabbix's own scripts link it."""
    if not zabbix_url or not trigger_id:
        return zabbix_url
    return f"{zabbix_url.rstrip('/')}/tr_events.php?triggerid={trigger_id}&eventid={event_id}"
