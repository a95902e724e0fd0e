"""``/portal/``: the request form. Without login; a request is checked whole (fields of
its type, service from the catalogue, files by size and content) and then stored as
one intake record of channel ``portal``, or refused with the reasons and nothing
stored. A honeypot field that people never see catches simple bots (they get the
thank-you page; nothing is stored); per-address and per-requester limits catch
floods."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from aiohttp import web

from core.errors import DataRejected, StorageUnavailable
from gateway.portal.captcha import CaptchaCheck, Outcome
from gateway.portal.config import PortalFormConfig
from gateway.portal.intake import PortalIntake
from gateway.portal.limits import PortalLimits
from gateway.portal.pages import PortalPages
from gateway.portal.upload import FormRefused, ReadForm, attachments, file_problem, read_form
from gateway.web.templating import CONTENT_SECURITY_POLICY

log = structlog.get_logger(__name__)

HONEYPOT = "website"
_ADDRESS = re.compile(r"^[^@\s<>\"]{1,64}@[^@\s<>\"]{1,255}\.[^@\s<>\"]{1,63}$")
_LIMITS = {"subject": 200, "text": 10_000, "name": 200, "field": 1000}
PROBLEMS = {
    "type": "Choose what kind of request this is.",
    "email": "Give a mail address we can answer to.",
    "domain": "Requests are taken from addresses of the organisation only.",
    "subject": "Give a short summary (at most 200 characters).",
    "text": "Describe the request (at most 10,000 characters).",
    "service": "Choose the service concerned.",
    "field": "This field is required.",
    "too_many_files": "Too many files.",
    "too_large": "The file is too large.",
    "type_not_allowed": "Files of this type are not accepted.",
    "content_mismatch": "The file's content does not match its type.",
    "rate_limited": "Too many requests in a short time; please wait a minute.",
    "unavailable": "It could not be saved just now; nothing was recorded. Please try again.",
    "bad_form": "The form could not be read; please send it again.",
    "captcha": "Please confirm that you are a person (the check below), then send again.",
    "captcha_unavailable": "The check that you are a person cannot be made just now; "
    "nothing was recorded. Please try again later.",
}


class RequestForm:
    def __init__(
        self,
        *,
        config: PortalFormConfig,
        pages: PortalPages,
        intake: PortalIntake,
        limits: PortalLimits,
        services: Callable[[], Sequence[str]],
        captcha: CaptchaCheck | None = None,
    ) -> None:
        self._config = config
        self._captcha = captcha
        self._pages = pages
        self._intake = intake
        self._limits = limits
        self._services = services

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/portal/", self.show),
            web.post("/portal/", self.submit),
            web.get("/portal/thanks", self.thanks),
        ]

    def _render(self, request: web.Request, status: int = 200, **values: Any) -> web.Response:
        context: dict[str, Any] = {"form": {}, "problems": {}, "files": [], **values}
        captcha = self._captcha
        return self._pages.render(
            request,
            "form.html",
            status,
            policy=captcha.policy(CONTENT_SECURITY_POLICY) if captcha else None,
            captcha=captcha.widget(self._pages.language(request)) if captcha else None,
            config=self._config,
            services=sorted(self._services()),
            messages=PROBLEMS,
            honeypot=HONEYPOT,
            **context,
        )

    async def show(self, request: web.Request) -> web.Response:
        return self._render(request)

    async def thanks(self, request: web.Request) -> web.Response:
        return self._pages.render(request, "thanks.html", reference=request.query.get("ref", ""))

    async def submit(self, request: web.Request) -> web.Response:
        if not self._limits.allow(request, ""):
            self._intake.rejected("rate_limited")
            return self._render(request, 429, problems={"form": "rate_limited"})
        try:
            form = await read_form(
                request, self._config.max_attachments, self._config.max_attachment_bytes
            )
        except FormRefused as refused:
            self._intake.rejected(refused.reason)
            status = 413 if refused.reason == "too_large" else 400
            return self._render(request, status, problems={"form": refused.reason})
        if form.values.get(HONEYPOT, "").strip():
            self._intake.rejected("honeypot")
            log.info("portal_honeypot", client=self._limits.client(request))
            return _see("/portal/thanks")
        problems, files = self._check(form)
        if self._captcha is not None:
            outcome = await self._captcha.verify(
                form.values.get(self._captcha.token_field, ""), self._limits.client(request)
            )
            if outcome is Outcome.UNAVAILABLE and not self._captcha.accept_unavailable:
                self._intake.rejected("captcha_unavailable")
                problems["form"] = "captcha_unavailable"
                return self._render(request, 503, form=form.values, problems=problems, files=files)
            if outcome is Outcome.UNAVAILABLE:
                log.warning("portal_captcha_unchecked", client=self._limits.client(request))
            if outcome is Outcome.FAILED:
                problems["captcha"] = "captcha"
        if problems:
            self._intake.rejected("captcha" if list(problems) == ["captcha"] else "invalid")
            return self._render(request, 400, form=form.values, problems=problems, files=files)
        email = form.values["email"].strip().lower()
        if not self._limits.allow_sender(email):
            self._intake.rejected("rate_limited")
            return self._render(request, 429, form=form.values, problems={"form": "rate_limited"})
        try:
            committed = await self._intake.commit(
                self._document(form, email), self._limits.client(request)
            )
        except (StorageUnavailable, DataRejected):
            return self._render(request, 503, form=form.values, problems={"form": "unavailable"})
        log.info("portal_request_stored", intake_id=committed.id)
        return _see(f"/portal/thanks?ref=P-{committed.id}")

    def _check(self, form: ReadForm) -> tuple[dict[str, str], list[dict[str, str]]]:
        """Problems by field (none: the form is good) and the files with theirs."""
        values, config = form.values, self._config
        problems: dict[str, str] = {}
        kind = values.get("type", "")
        if kind not in config.types:
            problems["type"] = "type"
        email = values.get("email", "").strip().lower()
        if not _ADDRESS.match(email):
            problems["email"] = "email"
        elif config.allowed_domains and email.rsplit("@", 1)[1] not in config.allowed_domains:
            problems["email"] = "domain"
        for name in ("subject", "text"):
            text = values.get(name, "").strip()
            if not text or len(text) > _LIMITS[name]:
                problems[name] = name
        service = values.get("service", "")
        if (service or kind in config.service_required) and service not in self._services():
            problems["service"] = "service"
        for spec in config.fields.get(kind, ()):  # type: ignore[call-overload]
            given = values.get(f"field_{spec.name}", "").strip()
            if (spec.required and not given) or len(given) > _LIMITS["field"]:
                problems[f"field_{spec.name}"] = "field"
        files = [{"filename": name, "problem": problem} for name, problem in form.refused]
        for upload in form.uploads:
            problem = file_problem(upload, config.attachment_types)
            files.append({"filename": upload.filename, "problem": problem or ""})
        if len(form.uploads) + len(form.refused) > config.max_attachments:
            problems["files"] = "too_many_files"
        if any(item["problem"] for item in files):
            problems.setdefault("files", "")
        return problems, files

    def _document(self, form: ReadForm, email: str) -> dict[str, Any]:
        values = form.values
        kind = values["type"]
        specs = self._config.fields.get(kind, ())  # type: ignore[call-overload]
        return {
            "form": "request",
            "type": kind,
            "service": values.get("service", ""),
            "requester": email,
            "name": values.get("name", "").strip()[: _LIMITS["name"]],
            "subject": values["subject"].strip(),
            "text": values["text"].strip(),
            "fields": {
                spec.name: values[f"field_{spec.name}"].strip()
                for spec in specs
                if values.get(f"field_{spec.name}", "").strip()
            },
            "attachments": attachments(form),
        }


def _see(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})
