"""What a parser is, and helpers every parser kind shares.

Reason tokens of ``ParseError`` (stable: metric label and HTTP 400 body):

- ``invalid_json``: the body is empty or not JSON.
- ``too_deep``: the JSON body nests deeper than ``parsers.jsondoc.MAX_JSON_DEPTH``.
- ``invalid_form``: a form body cannot be decoded.
- ``wrong_shape``: the document's skeleton is not what the kind posts (the body
  is not an object, ``alerts`` is not an array, an alert is not an object).
- ``missing_field``: a required field is absent or empty.
- ``wrong_type``: a field is present with the wrong JSON type or a value
  outside the ones the source can send (a status of ``7`` or ``"maybe"``).
- ``too_many_alerts``: more alerts in one body than the integration allows.
- ``unsupported_version``: the payload declares a version the kind cannot read.

Messages name the field by its path (``alerts[2].labels``) and say what was
expected and what came, for the person reading the HTTP 400 answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import orjson
from pydantic import BaseModel, ConfigDict, Field

from core.errors import ParseError
from core.records import Event, EventStatus, IntakeRecord, Severity
from parsers.jsondoc import decode_json as decode_json
from parsers.jsondoc import decode_json_or_none as decode_json_or_none
from parsers.times import BadTime, read_time

ORIGINAL_SEVERITY = "original_severity"
LABELS_TRUNCATED = "labels_truncated"

# Characters kept of an event's free texts.
NAME_LIMIT = 512
SUMMARY_LIMIT = 1024
DESCRIPTION_LIMIT = 65_536


class Parser(Protocol):
    """Turns one intake record into events. Must be pure and thread-safe."""

    def parse(self, record: IntakeRecord) -> list[Event]: ...


@dataclass(frozen=True, slots=True)
class Tally:
    """How many events a record makes, and how many of them fire."""

    events: int
    firing: int

    @classmethod
    def of(cls, events: Sequence[Event]) -> Tally:
        firing = sum(1 for event in events if event.status is EventStatus.FIRING)
        return cls(len(events), firing)


@runtime_checkable
class Tallying(Protocol):
    """A parser that can vouch for a record without making its events.

    The webhook edge answers a sender only after validating its body, and an
    alert group of fifty alerts costs fifty events to parse; a tally costs a
    pass over the decoded document. ``tally`` returns a Tally only when
    ``parse`` of the same record succeeds and makes exactly that many events
    (a test holds every implementation to this), and None when it cannot tell
    quickly; the caller then parses, which also gives the precise error.
    """

    def tally(self, record: IntakeRecord) -> Tally | None: ...


# Builds a parser from the integration's ``options`` mapping in config.
# Raises ValueError (with a message for the admin) on bad options.
ParserFactory = Callable[[Mapping[str, Any]], Parser]


# Words most tools use for severity; each kind adds its own scale on top.
SEVERITY_WORDS: Mapping[str, Severity] = MappingProxyType(
    {
        "critical": Severity.CRITICAL,
        "crit": Severity.CRITICAL,
        "fatal": Severity.CRITICAL,
        "disaster": Severity.CRITICAL,
        "emergency": Severity.CRITICAL,
        "page": Severity.CRITICAL,
        "p1": Severity.CRITICAL,
        "high": Severity.HIGH,
        "error": Severity.HIGH,
        "major": Severity.HIGH,
        "p2": Severity.HIGH,
        "medium": Severity.MEDIUM,
        "warning": Severity.MEDIUM,
        "warn": Severity.MEDIUM,
        "average": Severity.MEDIUM,
        "p3": Severity.MEDIUM,
        "low": Severity.LOW,
        "minor": Severity.LOW,
        "p4": Severity.LOW,
        "info": Severity.INFO,
        "informational": Severity.INFO,
        "information": Severity.INFO,
        "notice": Severity.INFO,
        "debug": Severity.INFO,
        "ok": Severity.INFO,
        "none": Severity.INFO,
    }
)


@dataclass(frozen=True, slots=True)
class SeverityScale:
    """Source severity words (case-insensitive) onto Severity, with a default."""

    words: Mapping[str, Severity]
    default: Severity

    @classmethod
    def build(
        cls, builtin: Mapping[str, Severity], overrides: Mapping[str, Severity], default: Severity
    ) -> SeverityScale:
        words = {key.strip().lower(): value for key, value in builtin.items()}
        words.update({key.strip().lower(): value for key, value in overrides.items()})
        return cls(MappingProxyType(words), default)

    def of(self, raw: str) -> Severity:
        """Unknown or empty values are not an error: they get the default."""
        return self.known(raw) or self.default

    def known(self, raw: str) -> Severity | None:
        """The severity of a word on this scale; None when the scale lacks it."""
        return self.words.get(raw.strip().lower())


class ParserOptions(BaseModel):
    """Base of every kind's options: frozen, and unknown options are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SeverityOptions(ParserOptions):
    severity_map: dict[str, Severity] = Field(
        default_factory=dict,
        description="source severity value (any case) -> critical/high/medium/low/info; "
        "overrides the kind's built-in scale",
    )
    default_severity: Severity = Field(
        default=Severity.MEDIUM, description="severity for missing or unknown source values"
    )

    def severity_scale(self, builtin: Mapping[str, Severity]) -> SeverityScale:
        return SeverityScale.build(builtin, self.severity_map, self.default_severity)


class LabelledOptions(SeverityOptions):
    max_labels: int = Field(
        default=128,
        ge=1,
        description="labels (and annotations) kept per alert; more are dropped and the "
        "event gets labels_truncated=true",
    )
    max_label_length: int = Field(
        default=1024, ge=1, description="characters kept of each label name and value"
    )


@dataclass(frozen=True, slots=True)
class LabelLimits:
    max_count: int
    max_length: int


def require_object(value: Any, what: str = "body") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError("wrong_shape", f"{what} must be a JSON object, got {json_type(value)}")
    return value


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, as a person reads it in an error."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def describe(value: Any) -> str:
    """A value's type and, for scalars, a short rendering: ``number 7``."""
    kind = json_type(value)
    if kind in ("array", "object", "null"):
        return kind
    shown = as_text(value, 60)
    return f"{kind} {shown!r}" if kind == "string" else f"{kind} {shown}"


def field_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def wrong_type(path: str, expected: str, value: Any) -> ParseError:
    return ParseError("wrong_type", f"{path}: expected {expected}, got {describe(value)}")


def missing_field(path: str, hint: str = "") -> ParseError:
    return ParseError("missing_field", f"{path}: required field is missing{hint}")


def scalar_text(value: Any, path: str) -> str:
    """A string, number or boolean as text; null as ""; arrays and objects are wrong_type."""
    if isinstance(value, list | dict):
        raise wrong_type(path, "a string", value)
    return as_text(value, limit=1 << 30)


def get_text(obj: Mapping[str, Any], key: str, path: str = "", *, required: bool = False) -> str:
    """A field that must be a string when present (null counts as absent)."""
    value = obj.get(key)
    if isinstance(value, str) and value:  # the common case, checked first
        return value
    if value is None or value == "":
        if required:
            raise missing_field(field_path(path, key))
        return ""
    if not isinstance(value, str):
        raise wrong_type(field_path(path, key), "a string", value)
    return value


def get_object(
    obj: Mapping[str, Any], key: str, path: str = "", *, required: bool = False
) -> Mapping[str, Any]:
    """A field that must be a JSON object when present (null counts as absent)."""
    value = obj.get(key)
    if value is None:
        if required:
            raise missing_field(field_path(path, key))
        return {}
    if not isinstance(value, dict):
        raise wrong_type(field_path(path, key), "an object", value)
    return value


def get_time(obj: Mapping[str, Any], key: str, path: str = "") -> datetime | None:
    """An RFC 3339 time field in UTC; None when absent, empty or Go's zero time."""
    value = obj.get(key)
    try:
        return read_time(value)
    except BadTime as bad:
        raise wrong_type(field_path(path, key), bad.expected, value) from None


def plain_texts(value: Any) -> bool:
    """A JSON object whose values are all strings (labels as every sender posts them)."""
    if type(value) is not dict:
        return False
    for item in value.values():  # noqa: SIM110 - a loop: all() over a generator is slower
        if type(item) is not str:
            return False
    return True


def first_value(values: Mapping[str, str], names: Iterable[str]) -> str:
    """The first non-empty value among ``names``; "" when none has one."""
    for name in names:
        value = values.get(name, "")
        if value:
            return value
    return ""


def bounded_labels(
    raw: Mapping[str, Any], path: str, limits: LabelLimits, keep: Sequence[str] = ()
) -> tuple[dict[str, str], bool]:
    """A source's labels as bounded strings, and whether anything was cut.

    At most ``limits.max_count`` labels survive: the ``keep`` names first (the
    ones the parser reads, so a flood of labels cannot hide the alert's
    name or severity), then the rest by name so the result does not depend
    on the order of the payload. Names and values are cut to
    ``limits.max_length`` characters.
    """
    if len(raw) <= limits.max_count and _short_texts(raw, limits.max_length):
        return dict(raw), False  # nothing to convert or cut: the order cannot matter
    kept = [name for name in dict.fromkeys(keep) if name in raw]
    kept_set = set(kept)
    names = kept + sorted(name for name in raw if name not in kept_set)
    truncated = len(names) > limits.max_count
    labels: dict[str, str] = {}
    for name in names[: limits.max_count]:
        value = scalar_text(raw[name], f"{path}.{name}")
        short_name = name[: limits.max_length]
        short_value = value[: limits.max_length]
        truncated = truncated or short_name != name or short_value != value
        labels[short_name] = short_value
    return labels, truncated


def _short_texts(raw: Mapping[str, Any], limit: int) -> bool:
    """Every name and value is a string of at most ``limit`` characters."""
    for name, value in raw.items():
        if not isinstance(value, str) or len(value) > limit or len(name) > limit:
            return False
    return True


def with_meta_labels(
    labels: Mapping[str, str], original_severity: str, truncated: bool
) -> dict[str, str]:
    """The event's labels plus the parser's notes: original severity, truncation."""
    result = dict(labels)
    if original_severity:
        result[ORIGINAL_SEVERITY] = original_severity
    if truncated:
        result[LABELS_TRUNCATED] = "true"
    return result


def as_text(value: Any, limit: int = 4096) -> str:
    """A scalar as a bounded string; containers become compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = str(value)
    else:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text[:limit]


def flat_labels(value: Any, *, max_labels: int = 128, max_len: int = 1024) -> dict[str, str]:
    """A JSON object as string labels, bounded in count and length."""
    if not isinstance(value, dict):
        return {}
    labels: dict[str, str] = {}
    for key, item in value.items():
        if len(labels) >= max_labels:
            break
        labels[str(key)[:max_len]] = as_text(item, max_len)
    return labels
