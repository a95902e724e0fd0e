"""Tables. tortoise-orm is imported only inside ``storage/``.

Uniqueness does the concurrency work (several replicas on one PostgreSQL):
``intake_records.dedup_key`` makes a re-delivery a no-op,
``events.fingerprint`` keeps one event per fingerprint, and
``incidents.open_key`` (the correlation key while the incident is open, NULL
after) keeps one open incident per correlation key.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class SchemaVersion(Model):
    id = fields.IntField(primary_key=True)
    version = fields.IntField()
    applied_at = fields.DatetimeField()
    description = fields.CharField(max_length=200)

    class Meta:
        table = "gateway_schema"


class IntakeRecordRow(Model):
    """One raw thing received, unchanged, for audit and replay."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=8)
    source = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=32)
    received_at = fields.DatetimeField()
    dedup_key = fields.CharField(max_length=255, null=True, unique=True)
    meta: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    body = fields.BinaryField()  # the raw bytes, unchanged
    size = fields.IntField()
    # pending -> processed | failed; failed records keep their error for inspection
    state = fields.CharField(max_length=12, default="pending")
    error = fields.TextField(null=True)
    processed_at = fields.DatetimeField(null=True)
    claimed_by = fields.CharField(max_length=128, null=True)
    claimed_until = fields.DatetimeField(null=True)
    # applied_events (migration 6, with a database default the models cannot give):
    # events of a pending record already applied, as a big record is applied in parts

    class Meta:
        table = "intake_records"
        indexes = (("state", "id"), ("received_at",))


class RejectedIntake(Model):
    """Bad input kept for inspection: a bounded sample, never the whole body."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=8)
    source = fields.CharField(max_length=64)
    reason = fields.CharField(max_length=64)
    message = fields.TextField()
    received_at = fields.DatetimeField()
    size = fields.BigIntField()
    sample = fields.BinaryField()
    meta: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)

    class Meta:
        table = "rejected_intake"
        indexes = (("received_at",),)


class Incident(Model):
    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=32, unique=True, null=True)
    title = fields.CharField(max_length=512)
    type = fields.CharField(max_length=32, default="incident")
    status = fields.CharField(max_length=16, default="new")
    priority = fields.CharField(max_length=2, default="P3")
    impact = fields.SmallIntField(default=3)
    urgency = fields.SmallIntField(default=3)
    major = fields.BooleanField(default=False)
    service = fields.CharField(max_length=256, default="")
    ci = fields.CharField(max_length=256, default="")
    environment = fields.CharField(max_length=64, default="")
    category = fields.CharField(max_length=128, default="")
    assignment_group = fields.CharField(max_length=128, default="")
    requester = fields.CharField(max_length=320, default="")
    correlation_key = fields.CharField(max_length=255)
    open_key = fields.CharField(max_length=255, null=True, unique=True)
    event_count = fields.IntField(default=0)
    firing_events = fields.IntField(default=0)
    response_due = fields.DatetimeField(null=True)
    resolution_due = fields.DatetimeField(null=True)
    # the calendar of the SLA target the due times were set from (migration 16): service
    # time is counted on it after the rules give the service another
    sla_calendar = fields.CharField(max_length=128, null=True)
    response_breached = fields.BooleanField(default=False)
    resolution_breached = fields.BooleanField(default=False)
    linked_incident_id = fields.BigIntField(null=True)
    # closed as a duplicate of this incident (migration 12): its events went there, and
    # so do new events of its correlation key while nothing else is open for it
    merged_into_id = fields.BigIntField(null=True)
    owner = fields.CharField(max_length=128, default="")
    # hold-down: resolve at this time unless an event fires again
    resolve_after = fields.DatetimeField(null=True)
    problem_candidate = fields.BooleanField(default=False)
    related_incidents: fields.JSONField[list[int]] = fields.JSONField(default=list)
    # sinks the incident is forwarded to, as decided when it opened
    routes: fields.JSONField[list[str]] = fields.JSONField(default=list)
    # SLA escalation levels already done, e.g. "response:near_breach"
    escalated: fields.JSONField[list[str]] = fields.JSONField(default=list)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    acknowledged_at = fields.DatetimeField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    # status pending (waiting on the requester): since when; the SLA clocks stand still
    pending_since = fields.DatetimeField(null=True)
    # the requester's satisfaction rating (1-5) from the survey; set once
    rating = fields.SmallIntField(null=True)
    rated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "incidents"
        indexes = (
            ("status", "id"),
            ("priority", "id"),
            ("service", "id"),
            ("correlation_key", "id"),
            ("ci", "status"),
            ("created_at",),
            ("type", "id"),
            ("major", "id"),
        )


class Event(Model):
    id = fields.BigIntField(primary_key=True)
    fingerprint = fields.CharField(max_length=128, unique=True)
    source = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=32)
    name = fields.CharField(max_length=512)
    resource = fields.CharField(max_length=512)
    service = fields.CharField(max_length=256, default="")
    ci = fields.CharField(max_length=256, default="")
    environment = fields.CharField(max_length=64, default="")
    severity = fields.CharField(max_length=16)
    status = fields.CharField(max_length=16)
    summary = fields.TextField()
    description = fields.TextField(default="")
    labels: fields.JSONField[dict[str, str]] = fields.JSONField(default=dict)
    url = fields.TextField(default="")
    count = fields.IntField(default=1)
    first_seen = fields.DatetimeField()
    last_seen = fields.DatetimeField()
    last_outcome = fields.CharField(max_length=16)
    suppressed_by = fields.CharField(max_length=128, default="")
    flapping = fields.BooleanField(default=False)
    transitions: fields.JSONField[list[str]] = fields.JSONField(default=list)
    correlation_key = fields.CharField(max_length=255, default="")
    incident_id = fields.BigIntField(null=True)
    last_intake_id = fields.BigIntField(null=True)

    class Meta:
        table = "events"
        indexes = (
            ("incident_id",),
            ("last_seen",),
            ("status", "id"),
            # the API filters by source, alone and with status, newest first
            ("source", "id"),
            ("source", "status", "id"),
            # a mail reply without key or thread: the sender's mails (then by subject)
            ("source", "resource"),
        )


class Occurrence(Model):
    """One evaluated event: the history behind thresholds, trends and replay."""

    id = fields.BigIntField(primary_key=True)
    event_id = fields.BigIntField()
    fingerprint = fields.CharField(max_length=128)
    correlation_key = fields.CharField(max_length=255)
    incident_id = fields.BigIntField(null=True)
    intake_id = fields.BigIntField(null=True)
    outcome = fields.CharField(max_length=16)
    at = fields.DatetimeField()

    class Meta:
        table = "occurrences"
        indexes = (("correlation_key", "at"), ("fingerprint", "at"), ("at",))


class TimelineEntry(Model):
    id = fields.BigIntField(primary_key=True)
    incident_id = fields.BigIntField()
    at = fields.DatetimeField()
    kind = fields.CharField(max_length=32)
    author = fields.CharField(max_length=128, default="gateway")
    text = fields.TextField(default="")
    data: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    # public: shown to the requester on the status page; internal: operators only
    visibility = fields.CharField(max_length=8, default="internal")

    class Meta:
        table = "timeline"
        # ("at",) is idx_timeline_at of migration 10
        indexes = (("incident_id", "id"),)


class MailThread(Model):
    """Message-IDs the gateway received or sent, mapped to their incident."""

    message_id = fields.CharField(max_length=255, primary_key=True)
    incident_id = fields.BigIntField()
    direction = fields.CharField(max_length=8)  # in | out
    created_at = fields.DatetimeField()

    class Meta:
        table = "mail_threads"
        indexes = (("incident_id",),)


class ExternalRef(Model):
    id = fields.BigIntField(primary_key=True)
    incident_id = fields.BigIntField()
    sink = fields.CharField(max_length=64)
    ticket_id = fields.CharField(max_length=255)
    url = fields.TextField(default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "external_refs"
        unique_together = (("incident_id", "sink"),)


class OutboxRow(Model):
    id = fields.BigIntField(primary_key=True)
    incident_id = fields.BigIntField(null=True)
    sink = fields.CharField(max_length=64)
    action = fields.CharField(max_length=32)
    idempotency_key = fields.CharField(max_length=255, unique=True)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    state = fields.CharField(max_length=12, default="pending")  # pending|delivered|dead
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    lease_owner = fields.CharField(max_length=128, null=True)
    lease_until = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    response = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox"
        indexes = (("state", "next_attempt_at"), ("incident_id", "id"))


class Silence(Model):
    id = fields.BigIntField(primary_key=True)
    matchers: fields.JSONField[list[dict[str, str]]] = fields.JSONField()
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    author = fields.CharField(max_length=128)
    comment = fields.TextField()
    created_at = fields.DatetimeField()
    expired_at = fields.DatetimeField(null=True)

    class Meta:
        table = "silences"
        indexes = (("ends_at",),)


class Heartbeat(Model):
    """The last sign of life of an integration that must send heartbeats, and whether
    its 'monitoring is down' incident is raised (shared by every replica)."""

    integration = fields.CharField(max_length=64, primary_key=True)
    last_seen = fields.DatetimeField(null=True)  # NULL: raised before any heartbeat came
    alerted_at = fields.DatetimeField(null=True)  # set while the incident is raised

    class Meta:
        table = "heartbeats"


class Lease(Model):
    """Work that one replica at a time does for as long as it runs (an IMAP folder's
    polling): held by ``owner`` until ``expires_at``, renewed while the work goes on."""

    name = fields.CharField(max_length=255, primary_key=True)
    owner = fields.CharField(max_length=128)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "leases"
