"""How the daemon itself runs: its log, its shutdown and watchdog, how long it keeps
finished work."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.validation import Strict


class LoggingConfig(Strict):
    """structlog output on standard error."""

    level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="least severe level written; debug may include headers"
    )
    format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: readable on a terminal, JSON otherwise"
    )


class LifecycleConfig(Strict):
    """Shutdown and the systemd watchdog."""

    drain_seconds: float = Field(
        default=8.0, gt=0, le=300, description="SIGTERM: time to finish in-flight work"
    )
    heartbeat_seconds: float = Field(
        default=5.0, gt=0, description="pipeline heartbeat (systemd WATCHDOG=1)"
    )


class RetentionConfig(Strict):
    """How long finished work is kept. Older rows are deleted by one replica at a time,
    in small batches with pauses, so intake never waits for them."""

    intake_records_days: int | None = Field(
        default=90,
        ge=1,
        description="raw intake records (processed or failed) received longer ago are "
        "deleted; pending ones never; unset: kept forever",
    )
    rejected_intake_days: int | None = Field(
        default=30,
        ge=1,
        description="samples of rejected input kept this long; unset: kept forever",
    )
    incidents_days: int | None = Field(
        default=365,
        ge=1,
        description="incidents resolved or closed longer ago are deleted with their "
        "timeline, events, mail threads, ticket references and delivered forwarding "
        "rows; occurrences and events of no incident older than this go too; keep it "
        "longer than the rules' close_after and recurrence windows; unset: kept forever",
    )
    interval_seconds: float = Field(
        default=3600.0, gt=0, le=7 * 86_400, description="time between two retention runs"
    )
    batch_size: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="rows deleted per transaction (incidents: a twentieth of this, each "
        "with its rows)",
    )
    pause_seconds: float = Field(default=0.1, ge=0, le=60, description="pause between two batches")
