"""The aiosmtpd handler: accept known recipients, store each message, answer with its id.

aiosmtpd's ``SMTP`` protocol is the state machine; these hooks are where an
envelope meets the domain. DATA stores the message raw and unchanged (at
most a few headers are read, for the de-duplication key) and answers 250
only once it is committed; a commit failure answers 451 so the sender keeps
the message and retries. Nothing is parsed here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from core.errors import DataRejected, StorageUnavailable
from core.records import Channel
from gateway.intake.mailintake import Mailbox, MailIntake
from gateway.intake.mailkeys import mail_dedup_key

log = structlog.get_logger(__name__)

# Hashing a large message without a Message-ID takes milliseconds: off the loop.
_THREAD_KEY_BYTES = 1024 * 1024

TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
NOT_STORED = "451 4.3.0 Message not stored: storage unavailable, try again later"
INTERNAL_ERROR = "451 4.3.0 Internal error, try again later"
# the database refuses this message as received: sending it again cannot help
NOT_STORABLE = "554 5.6.0 Message not stored: its content cannot be stored"
NO_RECIPIENTS = "554 5.5.1 No valid recipients"


def unknown_recipient(address: str) -> str:
    return f"550 5.1.1 <{address}>: no such mailbox here"


class MailHandler:
    """Hooks called by ``aiosmtpd.smtp.SMTP`` for every session of one listener."""

    def __init__(
        self,
        *,
        mailboxes: Callable[[], Mapping[str, Mailbox]],
        intake: MailIntake,
        max_recipients: int,
        offer_auth: bool,
    ) -> None:
        self._mailboxes = mailboxes  # by lower-cased address; swapped on reload
        self._intake = intake
        self._max_recipients = max_recipients
        self._offer_auth = offer_auth
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self._offer_auth:
            return responses
        # aiosmtpd lists AUTH after STARTTLS even with no logins configured
        return [line for line in responses if not line.startswith("250-AUTH")]

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self._max_recipients:
            return TOO_MANY_RECIPIENTS
        if address.lower() not in self._mailboxes():
            self._intake.count(Channel.SMTP, "rejected")
            return unknown_recipient(address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self._in_flight += 1
        self._idle.clear()
        try:
            return await self._store(session, envelope)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def handle_exception(self, error: Exception) -> str:
        log.error("smtp_session_error", error=repr(error))
        return INTERNAL_ERROR

    async def wait_idle(self) -> None:
        """Return once no message is being stored."""
        await self._idle.wait()

    async def _store(self, session: Any, envelope: Any) -> str:
        mailboxes = self._mailboxes()
        found = [mailboxes.get(address.lower()) for address in envelope.rcpt_tos]
        accepted = [mailbox for mailbox in found if mailbox is not None]
        if not accepted:  # a reload removed every recipient since RCPT
            return NO_RECIPIENTS
        raw: bytes = envelope.original_content
        sender: str = envelope.mail_from or ""
        if len(raw) > _THREAD_KEY_BYTES:
            key = await asyncio.to_thread(mail_dedup_key, raw, sender)
        else:
            key = mail_dedup_key(raw, sender)
        try:
            committed = await self._intake.commit(
                channel=Channel.SMTP,
                # one record per message: a copy to several mailboxes is one mail
                mailbox=accepted[0].name,
                raw=raw,
                meta=_envelope_meta(session, envelope),
                dedup_key=key,
            )
        except StorageUnavailable as exc:
            log.warning("smtp_commit_failed", error=str(exc))
            return NOT_STORED
        except DataRejected:
            return NOT_STORABLE
        return f"250 OK queued as {committed.id}"


def _envelope_meta(session: Any, envelope: Any) -> dict[str, str]:
    peer = session.peer
    meta = {
        "mail_from": envelope.mail_from or "",
        "rcpt_to": ",".join(envelope.rcpt_tos),
        "peer": str(peer[0]) if isinstance(peer, tuple) and peer else str(peer or ""),
        "helo": session.host_name or "",
        "tls": "true" if session.ssl is not None else "false",
    }
    if session.authenticated and session.auth_data is not None:
        meta["auth_user"] = session.auth_data.login.decode("utf-8", "replace")
    return meta
