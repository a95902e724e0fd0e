"""Why an event is where it is (``/ui/events/{id}``), and the rules with a "try it"
box (``/ui/rules``).

Explain shows what storage kept (fingerprint, correlation key, outcome, which
silence, inhibition, maintenance or flapping hold it, its occurrences, the
incident's routes and what each sink answered) and runs the stored raw record
through today's parser and rules again, as test-rules does, without storing
anything: the matched rules with their ``file:line``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from gateway.api.params import whole_number
from gateway.console.access import PREFIX
from gateway.console.app import Console
from gateway.console.decide import Trial, decide, pasted_record
from gateway.console.rulefiles import locate, maintenance_windows, rule_files
from gateway.intake.mailintake import MAIL_KIND
from gateway.reload import LastReload
from gateway.runtime import Runtime
from storage import forwarding_rows, get_incident, intake_record, occurrences, stored_event

_MAX_RAW_SHOWN = 64 * 1024
_MAX_PASTE = 1024 * 1024


def _raw_text(raw: bytes) -> tuple[str, bool]:
    """The raw bytes as text to read (never markup): undecodable bytes replaced."""
    cut = len(raw) > _MAX_RAW_SHOWN
    return raw[:_MAX_RAW_SHOWN].decode("utf-8", errors="replace"), cut


class ExplainPages:
    def __init__(
        self,
        console: Console,
        runtime: Callable[[], Runtime],
        last_reload: Callable[[], LastReload | None],
    ) -> None:
        self._console = console
        self._runtime = runtime
        self._last_reload = last_reload

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{PREFIX}/events/{{event_id}}", self.explain),
            web.get(f"{PREFIX}/rules", self.rules),
            web.post(f"{PREFIX}/rules/try", self.try_it),
        ]

    async def explain(self, request: web.Request) -> web.Response:
        event = await stored_event(whole_number(request.match_info["event_id"], "event_id"))
        if event is None:
            raise web.HTTPNotFound(text="no such event")
        runtime = self._runtime()
        incident = await get_incident(event["incident_id"]) if event["incident_id"] else None
        record, trial = None, None
        notes: dict[str, Any] = {}
        if event["last_intake_id"]:
            found = await intake_record(int(event["last_intake_id"]))
            if found is not None:
                record, notes = found
                parser = runtime.parsers.get(record.source)
                trial = decide(parser, runtime.ruleset, record, datetime.now(UTC))
        raw, cut = _raw_text(record.raw) if record is not None else ("", False)
        return self._console.page(
            request,
            "explain.html",
            section="incidents",
            event=event,
            incident=incident,
            forwarding=await forwarding_rows(int(incident["id"])) if incident else [],
            occurrences=await occurrences(int(event["id"])),
            record=record,
            notes=notes,
            raw=raw,
            raw_cut=cut,
            trial=self._trial_view(trial, runtime),
        )

    def _trial_view(self, trial: Trial | None, runtime: Runtime) -> dict[str, Any] | None:
        if trial is None:
            return None
        files = rule_files(runtime.loaded.config.rules.dir)
        names = {name for _, decision in trial.events for name in decision.matched_rules}
        return {
            "error": trial.error,
            "items": [{"event": event, "decision": decision} for event, decision in trial.events],
            "where": locate(names, files),
        }

    def _sources(self, runtime: Runtime) -> dict[str, str]:
        """Each source a payload can be tried as, with its parser kind."""
        config = runtime.loaded.config
        kinds = {item.name: item.kind for item in config.integrations}
        kinds.update({mailbox.name: MAIL_KIND for mailbox in config.mailboxes})
        return {name: kinds[name] for name in sorted(runtime.parsers) if name in kinds}

    async def rules(self, request: web.Request) -> web.Response:
        return self._rules_page(request, None, "", "")

    def _rules_page(
        self, request: web.Request, trial: Trial | None, source: str, pasted: str
    ) -> web.Response:
        runtime = self._runtime()
        files = rule_files(runtime.loaded.config.rules.dir)
        return self._console.page(
            request,
            "rules.html",
            section="rules",
            files=files,
            version=runtime.ruleset.version,
            warnings=runtime.ruleset.lint.warnings(datetime.now(UTC)),
            last_reload=self._last_reload(),
            windows=maintenance_windows(runtime.ruleset, datetime.now(UTC)),
            sources=self._sources(runtime),
            source=source,
            pasted=pasted,
            trial=self._trial_view(trial, runtime),
        )

    async def try_it(self, request: web.Request) -> web.Response:
        form = await request.post()
        source = str(form.get("source", ""))
        pasted = str(form.get("payload", ""))
        if len(pasted) > _MAX_PASTE:
            raise web.HTTPRequestEntityTooLarge(max_size=_MAX_PASTE, actual_size=len(pasted))
        runtime = self._runtime()
        kinds = self._sources(runtime)
        if source not in kinds:
            raise web.HTTPBadRequest(text="choose a source the payload came from")
        now = datetime.now(UTC)
        record = pasted_record(source, kinds[source], pasted.encode("utf-8"), now)
        trial = decide(runtime.parsers[source], runtime.ruleset, record, now)
        return self._rules_page(request, trial, source, pasted)
