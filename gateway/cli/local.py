"""``explain --local``: the rules of a config file, without a daemon, against an empty
scratch SQLite database (the rule scenarios' way), so no history shapes the decision."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from typing import Any

from core.errors import ConfigError, ParseError
from gateway.cli.client import EXIT_REFUSED, EXIT_USAGE, CommandError
from gateway.config.model import config_path, load_config
from gateway.logs import configure_logging
from gateway.processing.explain import dry_judge, explained
from gateway.processing.explain_source import UnknownSource, payload
from gateway.runtime import compile_runtime
from storage import Database, DatabaseSettings, IncidentStore, migrate


async def explain_locally(
    config: str | None, raw: bytes, named: str | None, media: str, mail_from: str | None
) -> dict[str, Any]:
    configure_logging("warning")  # the scratch database's start is no news
    try:
        runtime = compile_runtime(load_config(config_path(config)))
    except ConfigError as exc:
        raise CommandError("\n".join(exc.problems), EXIT_USAGE) from None
    now = datetime.now(UTC)
    try:
        found = payload(runtime, raw, named=named, content_type=media, mail_from=mail_from, now=now)
    except UnknownSource as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    try:
        events = found.parser.parse(found.record)
    except ParseError as exc:
        raise CommandError(f"unparseable: {exc.reason}: {exc}", EXIT_REFUSED) from None
    with tempfile.TemporaryDirectory(prefix="intake-explain-") as scratch:
        db = Database(DatabaseSettings(f"sqlite://{scratch}/explain.sqlite3", "normal"))
        await db.open()
        try:
            await migrate(db, scratch=True)
            run = await dry_judge(db, IncidentStore(db), runtime.ruleset, events, now)
        finally:
            await db.close()
    return explained(found, events, run, runtime.ruleset)
