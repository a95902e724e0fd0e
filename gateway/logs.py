"""structlog setup: JSON lines in production, readable output on a terminal.

Our own log calls and the standard-library loggers of the libraries
(aiohttp, aiosmtpd, asyncio, tortoise) end in one handler whose
``ProcessorFormatter`` renders both the same way, so a JSON log has one
JSON object per line, whoever wrote it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import date, datetime, time, timedelta
from typing import IO, Any

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
# Our packages log at the configured level; libraries at INFO or above.
_OWN_PACKAGES = ("gateway", "storage", "parsers", "rules", "sinks", "bench")


def _json_value(value: Any) -> Any:
    """Times as ISO 8601 and durations in seconds, anything else as its text."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)


def configure_logging(
    level: str = "info", fmt: str = "auto", stream: IO[str] | None = None
) -> None:
    out = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(serializer=json.dumps, default=_json_value)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(max(_LEVELS[level], logging.INFO))
    for name in _OWN_PACKAGES:
        logging.getLogger(name).setLevel(_LEVELS[level])
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # aiosmtpd logs every SMTP command line, addresses included, at INFO
    logging.getLogger("mail.log").setLevel(max(_LEVELS[level], logging.WARNING))
