"""Grafana alert notifications: unified alerting and the legacy dashboard alerts.

Which payload a body is, is told by its shape:

- Unified alerting (Grafana 8+) posts an Alertmanager-shaped group with
  ``"version": "1"`` and extra per-alert fields (``values``, ``valueString``,
  ``silenceURL``, ``dashboardURL``, ``panelURL``, ``imageURL``). Each alert is
  one event, read exactly as ``parsers.alertmanager`` reads its alerts; the
  extra fields are kept as annotations.
- Legacy dashboard alerting (before Grafana 11) posts one object per rule:
  ``ruleId``, ``ruleName``, ``ruleUrl``, ``state``, ``title``, ``message``,
  ``tags``, ``evalMatches[]``, ``dashboardId``, ``panelId``, ``orgId``. It is
  one event: ``alerting`` and ``no_data`` fire, ``ok`` resolves, and
  ``paused`` and ``pending`` give no event (the rule is not evaluating or has
  not fired yet: nothing about the service changed). It carries no time, so
  the event's time is the time of receipt. Its fingerprint is
  ``grafana:<orgId>:<ruleId>`` (or the rule name), so ``ok`` resolves what
  ``alerting`` opened.

Grafana has no severity of its own: it is read from the label (or tag)
named by ``severity_label`` if the rule sets one, else ``default_severity``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import ParseError
from core.records import Event, EventStatus, IntakeRecord
from parsers.alertmanager import AlertGroupFormat, AlertGroupReader, AlertmanagerOptions
from parsers.base import (
    SEVERITY_WORDS,
    SUMMARY_LIMIT,
    LabelLimits,
    Tally,
    as_text,
    bounded_labels,
    decode_json,
    decode_json_or_none,
    first_value,
    get_object,
    get_text,
    missing_field,
    require_object,
    scalar_text,
    with_meta_labels,
    wrong_type,
)

UNIFIED_FORMAT = AlertGroupFormat(
    kind="grafana",
    version="1",
    url_fields=("generatorURL", "panelURL", "dashboardURL"),
    extra_annotations={
        "valueString": "value_string",
        "values": "values",
        "silenceURL": "silence_url",
        "dashboardURL": "dashboard_url",
        "panelURL": "panel_url",
        "imageURL": "image_url",
    },
)

# Top-level fields only the legacy payload has; one of them marks it.
_LEGACY_MARKERS = frozenset({"ruleId", "ruleName", "ruleUrl", "evalMatches"})

_LEGACY_STATES: Mapping[str, EventStatus] = {
    "alerting": EventStatus.FIRING,
    "no_data": EventStatus.FIRING,
    "ok": EventStatus.RESOLVED,
}
_LEGACY_QUIET_STATES = frozenset({"paused", "pending"})
_LEGACY_STATE_NAMES = "one of 'alerting', 'ok', 'no_data', 'paused', 'pending'"


class GrafanaOptions(AlertmanagerOptions):
    """Options of a ``kind: grafana`` integration.

    The same as ``kind: alertmanager``; for legacy payloads the label options
    apply to the rule's ``tags`` (and to the tags of its first evaluation
    match, for the resource).
    """


class _LegacyReader:
    """Reads a legacy (dashboard) alerting notification into at most one event."""

    def __init__(self, options: GrafanaOptions) -> None:
        self._options = options
        self._severity = options.severity_scale(SEVERITY_WORDS)
        self._limits = LabelLimits(options.max_labels, options.max_label_length)
        self._read_tags = (
            options.severity_label,
            options.service_label,
            *options.resource_labels,
            *options.environment_labels,
        )

    def events(self, body: Mapping[str, Any], record: IntakeRecord) -> list[Event]:
        state = get_text(body, "state", required=True).strip().lower()
        if state in _LEGACY_QUIET_STATES:
            return []
        status = _LEGACY_STATES.get(state)
        if status is None:
            raise wrong_type("state", _LEGACY_STATE_NAMES, body["state"])
        return [self._event(body, state, status, record)]

    def _event(
        self, body: Mapping[str, Any], state: str, status: EventStatus, record: IntakeRecord
    ) -> Event:
        options = self._options
        name = get_text(body, "ruleName") or get_text(body, "title")
        if not name:
            raise missing_field("ruleName", " (and there is no 'title')")
        tags, truncated = bounded_labels(
            get_object(body, "tags"), "tags", self._limits, keep=self._read_tags
        )
        matches = _eval_matches(body)
        raw_severity = tags.get(options.severity_label, "")
        labels = with_meta_labels({**tags, "grafana_state": state}, raw_severity, truncated)
        return Event(
            source=record.source,
            kind="grafana",
            name=name,
            resource=first_value(tags, options.resource_labels) or self._match_resource(matches),
            severity=self._severity.of(raw_severity),
            status=status,
            summary=(get_text(body, "title") or name)[:SUMMARY_LIMIT],
            description=get_text(body, "message"),
            service=tags.get(options.service_label, ""),
            environment=first_value(tags, options.environment_labels),
            occurred_at=record.received_at,
            labels=labels,
            annotations=self._annotations(body, matches),
            fingerprint=_legacy_fingerprint(body, name),
            url=get_text(body, "ruleUrl"),
        )

    def _match_resource(self, matches: list[Mapping[str, Any]]) -> str:
        for index, match in enumerate(matches):
            path = f"evalMatches[{index}]"
            tags, _ = bounded_labels(
                get_object(match, "tags", path),
                f"{path}.tags",
                self._limits,
                keep=self._options.resource_labels,
            )
            resource = first_value(tags, self._options.resource_labels)
            if resource:
                return resource
        return ""

    def _annotations(
        self, body: Mapping[str, Any], matches: list[Mapping[str, Any]]
    ) -> dict[str, str]:
        limit = self._options.max_annotation_length
        found = {
            "message": get_text(body, "message"),
            "image_url": get_text(body, "imageUrl"),
            "dashboard_id": scalar_text(body.get("dashboardId"), "dashboardId"),
            "panel_id": scalar_text(body.get("panelId"), "panelId"),
            "eval_matches": as_text(matches, limit) if matches else "",
        }
        return {key: value[:limit] for key, value in found.items() if value}


def _eval_matches(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    value = body.get("evalMatches")
    if value is None:
        return []
    if not isinstance(value, list):
        raise wrong_type("evalMatches", "an array", value)
    for index, match in enumerate(value):
        if not isinstance(match, dict):
            raise wrong_type(f"evalMatches[{index}]", "an object", match)
    return value


def _legacy_fingerprint(body: Mapping[str, Any], name: str) -> str:
    rule = scalar_text(body.get("ruleId"), "ruleId") or name
    org = scalar_text(body.get("orgId"), "orgId")
    return f"grafana:{org}:{rule}"


class GrafanaParser:
    """``kind: grafana``: Grafana's webhook contact point, unified or legacy."""

    def __init__(self, options: GrafanaOptions) -> None:
        self._unified = AlertGroupReader(options, UNIFIED_FORMAT)
        self._legacy = _LegacyReader(options)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> GrafanaParser:
        return cls(GrafanaOptions.model_validate(dict(options)))

    def parse(self, record: IntakeRecord) -> list[Event]:
        body = require_object(decode_json(record.raw))
        if "alerts" in body:
            return self._unified.events(body, record)
        if _LEGACY_MARKERS & body.keys():
            return self._legacy.events(body, record)
        raise ParseError(
            "wrong_shape",
            "body is neither a Grafana alerting payload (no 'alerts' array) nor a legacy "
            "one (none of 'ruleId', 'ruleName', 'ruleUrl', 'evalMatches')",
        )

    def tally(self, record: IntakeRecord) -> Tally | None:
        """Unified alerting groups are tallied; a legacy payload (one event) is parsed."""
        body = decode_json_or_none(record.raw)
        if type(body) is not dict or "alerts" not in body:
            return None
        return self._unified.tally(body)
