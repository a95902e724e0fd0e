"""Prometheus Alertmanager webhook (payload version 4): one event per alert.

Alertmanager posts one notification per alert group::

    {"version": "4", "groupKey": "{}:{alertname=\\"DiskFull\\"}", "truncatedAlerts": 0,
     "status": "firing", "receiver": "intake", "groupLabels": {...},
     "commonLabels": {...}, "commonAnnotations": {...}, "externalURL": "...",
     "alerts": [{"status": "firing", "labels": {...}, "annotations": {...},
                 "startsAt": "...", "endsAt": "...", "generatorURL": "...",
                 "fingerprint": "..."}]}

Grafana's unified alerting posts the same shape with a few more fields, so the
reading of an alert group lives here (``AlertGroupReader``) and
``parsers.grafana`` reuses it with its own ``AlertGroupFormat``.

What is strict and what is lenient:

- Strict (``ParseError``) where a mistake would change what the gateway does:
  the skeleton, ``labels`` (required: every Alertmanager alert has them),
  ``status``, ``startsAt``/``endsAt``, ``fingerprint``, ``truncatedAlerts``.
- Lenient where the value only informs: an alert without ``alertname`` is
  still an event (named "unnamed alert"); unknown severity values get
  ``default_severity``; informational fields are taken as text.
- Label sets are never rejected for their size, however large: beyond
  ``max_labels`` they are cut and the event gets ``labels_truncated=true``.
  Alertmanager does not retry a 4xx answer, so rejecting would lose every
  alert of the group; the HTTP body limit already bounds the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import Field

from core.errors import ParseError
from core.records import Event, EventStatus, IntakeRecord
from parsers.base import (
    SEVERITY_WORDS,
    SUMMARY_LIMIT,
    LabelledOptions,
    LabelLimits,
    Tally,
    as_text,
    bounded_labels,
    decode_json,
    decode_json_or_none,
    describe,
    field_path,
    first_value,
    get_object,
    get_text,
    get_time,
    missing_field,
    plain_texts,
    require_object,
    scalar_text,
    with_meta_labels,
    wrong_type,
)
from parsers.times import valid_time

UNNAMED_ALERT = "unnamed alert"

_STATUSES: Mapping[str, EventStatus] = {
    "firing": EventStatus.FIRING,
    "resolved": EventStatus.RESOLVED,
}


class AlertmanagerOptions(LabelledOptions):
    """Options of a ``kind: alertmanager`` integration; label names are case-sensitive."""

    name_label: str = Field(default="alertname", description="label holding the alert name")
    resource_labels: tuple[str, ...] = Field(
        default=("instance", "host", "pod", "node", "job"),
        description="labels tried in order for the resource; the first non-empty wins",
    )
    service_label: str = Field(default="service", description="label holding the service")
    environment_labels: tuple[str, ...] = Field(
        default=("environment", "env"),
        description="labels tried in order for the environment (prod, staging, ...)",
    )
    severity_label: str = Field(default="severity", description="label holding the severity")
    summary_annotations: tuple[str, ...] = Field(
        default=("summary", "description", "message"),
        description="annotations tried in order for the one-line summary; else the name",
    )
    description_annotation: str = Field(
        default="description", description="annotation holding the longer text"
    )
    max_alerts: int = Field(
        default=10_000, ge=1, description="alerts accepted per notification; more is rejected"
    )
    max_annotation_length: int = Field(
        default=16_384, ge=1, description="characters kept of each annotation value"
    )


@dataclass(frozen=True, slots=True)
class AlertGroupFormat:
    """What differs between the tools that post Alertmanager-shaped alert groups."""

    kind: str
    version: str  # the one payload version this kind reads; absent is accepted
    url_fields: tuple[str, ...] = ("generatorURL",)
    # informational alert fields kept as annotations: payload name -> annotation name
    extra_annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Group:
    """What the group tells about each of its alerts."""

    key: str
    status: EventStatus | None
    truncated_alerts: int


def check_version(body: Mapping[str, Any], supported: str) -> None:
    """Absent is accepted; any version other than ``supported`` is not."""
    value = body.get("version")
    if value is None:
        return
    version = scalar_text(value, "version")
    if version != supported:
        raise ParseError(
            "unsupported_version",
            f"version: this parser reads payload version {supported!r}, got {describe(value)}",
        )


def _status(value: Any, path: str) -> EventStatus:
    if not isinstance(value, str):
        raise wrong_type(path, "'firing' or 'resolved'", value)
    status = _STATUSES.get(value.strip().lower())
    if status is None:
        raise wrong_type(path, "'firing' or 'resolved'", value)
    return status


def _truncated_alerts(body: Mapping[str, Any]) -> int:
    value = body.get("truncatedAlerts", 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise wrong_type("truncatedAlerts", "a whole number >= 0", value)
    return value


class AlertGroupReader:
    """Reads an Alertmanager-shaped alert group into one event per alert."""

    def __init__(self, options: AlertmanagerOptions, form: AlertGroupFormat) -> None:
        self._options = options
        self._form = form
        self._severity = options.severity_scale(SEVERITY_WORDS)
        self._label_limits = LabelLimits(options.max_labels, options.max_label_length)
        self._annotation_limits = LabelLimits(options.max_labels, options.max_annotation_length)
        # The labels the parser reads survive truncation, whatever else is cut.
        self._read_labels = (
            options.name_label,
            options.severity_label,
            options.service_label,
            *options.resource_labels,
            *options.environment_labels,
        )
        self._read_annotations = (*options.summary_annotations, options.description_annotation)

    def events(self, body: Mapping[str, Any], record: IntakeRecord) -> list[Event]:
        check_version(body, self._form.version)
        alerts = self._alerts(body)
        group = self._group(body)
        return [
            self._event(
                require_object(alert, f"alerts[{index}]"), f"alerts[{index}]", group, record
            )
            for index, alert in enumerate(alerts)
        ]

    def tally(self, body: Mapping[str, Any]) -> Tally | None:
        """What ``events(body)`` makes, counted without making it (see ``Tallying``).

        Vouches only for the plain shape senders post: the exact status
        words, string labels and annotations, readable times. Anything else
        gets None, and ``events`` reads it (or says precisely what is wrong).
        """
        version = body.get("version")
        if version is not None and version != self._form.version:
            return None
        alerts = body.get("alerts")
        if type(alerts) is not list or len(alerts) > self._options.max_alerts:
            return None
        group_key = body.get("groupKey")
        truncated = body.get("truncatedAlerts")
        if (group_key is not None and type(group_key) is not str) or (
            truncated is not None and (type(truncated) is not int or truncated < 0)
        ):
            return None
        group_status = body.get("status")
        if group_status is not None and group_status != "firing" and group_status != "resolved":
            return None
        firing = 0
        for alert in alerts:
            if type(alert) is not dict:
                return None
            status = alert.get("status")
            if status is None:
                status = group_status
            if status == "firing":
                firing += 1
            elif status != "resolved":
                return None
            annotations = alert.get("annotations")
            fingerprint = alert.get("fingerprint")
            if not (
                plain_texts(alert.get("labels"))
                and (annotations is None or plain_texts(annotations))
                and (fingerprint is None or type(fingerprint) is str)
                and valid_time(alert.get("startsAt"))
                and valid_time(alert.get("endsAt"))
            ):
                return None
        return Tally(len(alerts), firing)

    def _alerts(self, body: Mapping[str, Any]) -> list[Any]:
        alerts = body.get("alerts")
        if alerts is None:
            raise missing_field("alerts", " (expected an array of alerts)")
        if not isinstance(alerts, list):
            raise ParseError("wrong_shape", f"alerts: expected an array, got {describe(alerts)}")
        if len(alerts) > self._options.max_alerts:
            raise ParseError(
                "too_many_alerts",
                f"alerts: {len(alerts)} alerts, this integration accepts at most "
                f"{self._options.max_alerts}",
            )
        return alerts

    def _group(self, body: Mapping[str, Any]) -> _Group:
        status = body.get("status")
        return _Group(
            key=get_text(body, "groupKey"),
            status=None if status is None else _status(status, "status"),
            truncated_alerts=_truncated_alerts(body),
        )

    def _event(
        self, alert: Mapping[str, Any], path: str, group: _Group, record: IntakeRecord
    ) -> Event:
        options = self._options
        labels, labels_cut = bounded_labels(
            get_object(alert, "labels", path, required=True),
            field_path(path, "labels"),
            self._label_limits,
            keep=self._read_labels,
        )
        annotations, annotations_cut = self._annotations(alert, path)
        status = self._alert_status(alert, path, group)
        name = labels.get(options.name_label) or UNNAMED_ALERT
        raw_severity = labels.get(options.severity_label, "")
        summary = first_value(annotations, options.summary_annotations) or name
        return Event(
            source=record.source,
            kind=self._form.kind,
            name=name,
            resource=first_value(labels, options.resource_labels),
            severity=self._severity.of(raw_severity),
            status=status,
            summary=summary[:SUMMARY_LIMIT],
            description=annotations.get(options.description_annotation, ""),
            service=labels.get(options.service_label, ""),
            environment=first_value(labels, options.environment_labels),
            occurred_at=self._occurred_at(alert, path, status) or record.received_at,
            labels=self._event_labels(labels, raw_severity, labels_cut or annotations_cut, group),
            annotations=annotations,
            fingerprint=get_text(alert, "fingerprint", path),
            url=self._url(alert),
            group_key=group.key,
        )

    def _alert_status(self, alert: Mapping[str, Any], path: str, group: _Group) -> EventStatus:
        # Every alert carries its own status; the group's is a fallback for
        # hand-written payloads that set it once.
        value = alert.get("status")
        if value is not None:
            return _status(value, field_path(path, "status"))
        if group.status is not None:
            return group.status
        raise missing_field(field_path(path, "status"), " (and the body has no 'status')")

    @staticmethod
    def _occurred_at(alert: Mapping[str, Any], path: str, status: EventStatus) -> datetime | None:
        starts_at = get_time(alert, "startsAt", path)
        ends_at = get_time(alert, "endsAt", path)
        return ends_at if status is EventStatus.RESOLVED else starts_at

    def _annotations(self, alert: Mapping[str, Any], path: str) -> tuple[dict[str, str], bool]:
        annotations, truncated = bounded_labels(
            get_object(alert, "annotations", path),
            field_path(path, "annotations"),
            self._annotation_limits,
            keep=self._read_annotations,
        )
        for source_name, annotation in self._form.extra_annotations.items():
            text = as_text(alert.get(source_name), self._options.max_annotation_length)
            if text:
                annotations[annotation] = text
        return annotations, truncated

    @staticmethod
    def _event_labels(
        labels: Mapping[str, str], raw_severity: str, truncated: bool, group: _Group
    ) -> dict[str, str]:
        result = with_meta_labels(labels, raw_severity, truncated)
        if group.truncated_alerts:
            # The sender dropped alerts of this group: the incident may be incomplete.
            result["truncated_alerts"] = str(group.truncated_alerts)
        return result

    def _url(self, alert: Mapping[str, Any]) -> str:
        for name in self._form.url_fields:
            url = as_text(alert.get(name), 2048)
            if url:
                return url
        return ""


ALERTMANAGER_FORMAT = AlertGroupFormat(kind="alertmanager", version="4")


class AlertmanagerParser:
    """``kind: alertmanager``: the webhook receiver of Prometheus Alertmanager."""

    def __init__(self, options: AlertmanagerOptions) -> None:
        self._reader = AlertGroupReader(options, ALERTMANAGER_FORMAT)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> AlertmanagerParser:
        return cls(AlertmanagerOptions.model_validate(dict(options)))

    def parse(self, record: IntakeRecord) -> list[Event]:
        body = require_object(decode_json(record.raw))
        return self._reader.events(body, record)

    def tally(self, record: IntakeRecord) -> Tally | None:
        body = decode_json_or_none(record.raw)
        return self._reader.tally(body) if type(body) is dict else None
