"""Prometheus metrics, one registry per daemon instance (no module globals).

Labels are of bounded cardinality: channel, integration (from config),
outcome, reason, priority, IMAP account and folder (from config). Never a
fingerprint, an address or a subject.
"""

from __future__ import annotations

import platform

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import generate_latest

import gateway

_PREFIX = "intake_gateway"

# Commit latency is dominated by fsync: milliseconds, with a long tail.
_COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # process_* (CPU, resident memory, open files, start time) and python_info
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.build_info = Info(f"{_PREFIX}_build", "Version of the running daemon.", registry=r)
        self.build_info.info({"version": gateway.__version__, "python": platform.python_version()})
        self.intake_received = Counter(
            f"{_PREFIX}_intake_received_total",
            "Intake requests and messages received, before validation.",
            ["channel", "integration"],
            registry=r,
        )
        self.intake_accepted = Counter(
            f"{_PREFIX}_intake_accepted_total",
            "Intake records committed (outcome: stored or duplicate).",
            ["channel", "integration", "outcome"],
            registry=r,
        )
        self.intake_rejected = Counter(
            f"{_PREFIX}_intake_rejected_total",
            "Intake refused, by reason (auth, too_large, invalid_json, unavailable, ...).",
            ["channel", "integration", "reason"],
            registry=r,
        )
        self.alerts_received = Counter(
            f"{_PREFIX}_alerts_received_total",
            "Alerts (events) in webhook deliveries committed, by status (firing, resolved); "
            "a repeated delivery is not counted again.",
            ["integration", "status"],
            registry=r,
        )
        self.heartbeat_age = Gauge(
            f"{_PREFIX}_heartbeat_age_seconds",
            "Seconds since an integration's last heartbeat (since watching began, if none).",
            ["integration"],
            registry=r,
        )
        self.commit_seconds = Histogram(
            f"{_PREFIX}_intake_commit_seconds",
            "Time from receipt to durable commit of an intake record.",
            ["channel"],
            buckets=_COMMIT_BUCKETS,
            registry=r,
        )
        self.records_processed = Counter(
            f"{_PREFIX}_records_processed_total",
            "Intake records run through parsing and rules (outcome: processed or failed).",
            ["kind", "outcome"],
            registry=r,
        )
        self.events = Counter(
            f"{_PREFIX}_events_total",
            "Events by what the rules did with them.",
            ["outcome"],
            registry=r,
        )
        self.pipeline_lag = Gauge(
            f"{_PREFIX}_pipeline_lag_seconds",
            "Age of the last intake record when the pipeline finished it.",
            registry=r,
        )
        self.pipeline_pending = Gauge(
            f"{_PREFIX}_pipeline_pending_records",
            "Committed intake records not yet processed.",
            registry=r,
        )
        self.writer_queue = Gauge(
            f"{_PREFIX}_intake_queue_depth",
            "Intake records waiting for the group-commit writer.",
            registry=r,
        )
        self.incidents_opened = Counter(
            f"{_PREFIX}_incidents_opened_total",
            "Incidents opened, by priority (P1 to P4).",
            ["priority"],
            registry=r,
        )
        for priority in ("P1", "P2", "P3", "P4"):
            self.incidents_opened.labels(priority)  # a series from the start, for rate()
        self.rule_errors = Counter(
            f"{_PREFIX}_rule_errors_total",
            "Rules that failed on an event and were skipped.",
            registry=r,
        )
        self.reloads = Counter(
            f"{_PREFIX}_config_reloads_total",
            "Configuration and rule reloads (outcome: success or failure).",
            ["outcome"],
            registry=r,
        )
        self.reload_success = Gauge(
            f"{_PREFIX}_config_last_reload_successful",
            "1 if the last reload validated and was applied, else 0.",
            registry=r,
        )
        self.reload_success.set(1)
        self.sla_escalations = Counter(
            f"{_PREFIX}_sla_escalations_total",
            "SLA near-breach and breach escalations, by clock (response, resolution) and level.",
            ["clock", "level"],
            registry=r,
        )
        self.rules_info = Gauge(
            f"{_PREFIX}_rules_loaded",
            "1 for the rule set version in use.",
            ["version"],
            registry=r,
        )
        self.database_up = Gauge(
            f"{_PREFIX}_database_up", "1 if the database answered the last check.", registry=r
        )
        self.mail_messages = Counter(
            f"{_PREFIX}_mail_messages_total",
            "Mail received by SMTP or IMAP, by outcome "
            "(accepted, duplicate, rejected, too_large, unavailable).",
            ["channel", "outcome"],
            registry=r,
        )
        self.smtp_sessions = Gauge(
            f"{_PREFIX}_smtp_sessions",
            "SMTP sessions open now.",
            registry=r,
        )
        self.smtp_connections = Counter(
            f"{_PREFIX}_smtp_connections_total",
            "SMTP connections, by outcome (accepted, refused_network, refused_busy).",
            ["outcome"],
            registry=r,
        )
        self.imap_poll_lag = Gauge(
            f"{_PREFIX}_imap_poll_lag_seconds",
            "Seconds since the folder was last found fully taken (polling started: since "
            "then); 0 on a replica that does not poll it (another replica holds its lease).",
            ["account", "folder"],
            registry=r,
        )
        self.imap_polling = Gauge(
            f"{_PREFIX}_imap_polling",
            "1 while this replica polls the folder (holds its lease), else 0.",
            ["account", "folder"],
            registry=r,
        )
        self.imap_errors = Counter(
            f"{_PREFIX}_imap_errors_total",
            "IMAP failures, by stage (connect, search, fetch, mark, idle, internal).",
            ["account", "stage"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
