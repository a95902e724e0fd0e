"""Storage: the only package that imports tortoise-orm, and its public face.

The gateway imports storage through this module only (tests/unit/test_architecture.py
holds it to that), so what the rest of the daemon may rely on is the list below;
everything else in the package is free to change. Grouped by the job it serves.
"""

from storage import audit
from storage.actions import ActionRefused, Actions, NewSilence
from storage.answers import AnswerPolicy, RequesterAnswers
from storage.atomic import QueryRunner, run_atomic
from storage.audit import Operator, Verification
from storage.bulk import BulkActions, BulkKind
from storage.database import Database, DatabaseSettings, Dialect, reading
from storage.evidence import EvidenceStore
from storage.explain_reads import intake_record, occurrences, stored_event
from storage.heartbeats import HeartbeatRow, HeartbeatStore
from storage.incident_detail import changed_since, forwarding_rows, timeline_head
from storage.incident_edits import IncidentEdits
from storage.incident_list import SORTS, ListQuery, counts, ids_matching, list_page, read_cursor
from storage.incident_state import incident_key
from storage.incidents import IncidentStore
from storage.intake import Committed, IntakeWriter, NewIntake
from storage.label_index import LabelIndexes
from storage.leases import LeaseStore
from storage.listing_csv import EventTable, incident_table
from storage.merge import Merged, MergeRefused
from storage.migrations import migrate
from storage.outbox import Claim, OutboxStore
from storage.outbox_reads import SinkDepth
from storage.periodic import PeriodicStore
from storage.planner_stats import EventStatistics
from storage.portal import Ratings, public_status
from storage.records import RecordStore
from storage.replay import (
    SilenceInForce,
    StoredOutcome,
    copy_silences,
    outcomes_by_intake,
    records_since,
    requeue_failed,
    silences_in_force,
)
from storage.report_sql import Period
from storage.reports import Reports, claim_once, give_up_claim, time_histogram
from storage.requester_mail import Change, RequesterMail
from storage.retention import RetentionStore
from storage.rollup import DayTally
from storage.signatures import SignatureClaim
from storage.silence_edits import extend_silence
from storage.silence_report import event_by_id, report_silences
from storage.sql import as_time
from storage.sync import ExternalChange, SyncStore
from storage.views import EventFilter, IncidentFilter, get_incident, list_events, list_incidents

__all__ = [  # noqa: RUF022 - grouped by job, not alphabetically
    # the database, its schema and its transactions
    "Database",
    "DatabaseSettings",
    "Dialect",
    "QueryRunner",
    "as_time",
    "migrate",
    "reading",
    "run_atomic",
    # intake: raw records written durably, read back for parsing and replay
    "Committed",
    "IntakeWriter",
    "NewIntake",
    "RecordStore",
    "SignatureClaim",
    "LeaseStore",
    # judging events into incidents, and the periodic work on them
    "HeartbeatRow",
    "HeartbeatStore",
    "IncidentStore",
    "DayTally",
    "LabelIndexes",
    "EventStatistics",
    "PeriodicStore",
    "RetentionStore",
    "incident_key",
    # replay of stored intake under new rules
    "SilenceInForce",
    "StoredOutcome",
    "copy_silences",
    "outcomes_by_intake",
    "records_since",
    "requeue_failed",
    "silences_in_force",
    # forwarding: the outbox and what ticket systems answer
    "Claim",
    "ExternalChange",
    "OutboxStore",
    "SinkDepth",
    "SyncStore",
    # reading incidents and events (API, console, explain)
    "EventFilter",
    "IncidentFilter",
    "ListQuery",
    "SORTS",
    "changed_since",
    "counts",
    "event_by_id",
    "forwarding_rows",
    "get_incident",
    "ids_matching",
    "intake_record",
    "list_events",
    "list_incidents",
    "EventTable",
    "incident_table",
    "list_page",
    "occurrences",
    "read_cursor",
    "report_silences",
    "stored_event",
    "timeline_head",
    # what people do: operator actions, bulk actions, silences, edits
    "ActionRefused",
    "Actions",
    "BulkActions",
    "BulkKind",
    "IncidentEdits",
    "Merged",
    "MergeRefused",
    "NewSilence",
    "extend_silence",
    # requesters: answers, mail, the portal's status page and ratings
    "AnswerPolicy",
    "Change",
    "Ratings",
    "RequesterAnswers",
    "RequesterMail",
    "public_status",
    # reports and audit evidence
    "EvidenceStore",
    "Operator",
    "Period",
    "Reports",
    "Verification",
    "audit",
    "claim_once",
    "give_up_claim",
    "time_histogram",
]
