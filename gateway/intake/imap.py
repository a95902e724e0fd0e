"""IMAP intake: take mail from the configured folders, store it, then mark it taken.

One worker per (account, folder), each with its own connection and its own
thread: imapclient blocks, so every IMAP call runs in that thread and the
event loop only awaits it. A worker takes what is pending, then waits with
IDLE when the server offers it, or sleeps ``poll_interval_seconds``. IDLE
ends after ``poll_interval_seconds`` or ``idle_timeout_seconds``, whichever
is shorter, and the folder is searched again: a mail that arrived between
the search and the start of IDLE (some servers never announce it) waits at
most one poll interval. A lost connection is retried with capped, jittered
backoff.

Taking a message: RFC822.SIZE first (a message over the limit is left in the
folder, never fetched; logged and counted once), BODY.PEEK[] (does not set
\\Seen), commit, and only then \\Seen or a move to the processed folder.

De-duplication, and why a crash or a new UIDVALIDITY makes no duplicates:
the record's key is the mail's own identity (``gateway.intake.mailkeys``: Message-ID
and Return-Path, or the content hash), the same key SMTP uses, so the same
mail by SMTP and by IMAP is one record. A message stored but not yet marked
when the daemon stopped is fetched again and its commit reports a duplicate;
after a mailbox is recreated its messages come back under new UIDs with the
same keys. Where a record came from — account, folder, UIDVALIDITY, UID,
and ``imap_key`` joining them — is kept in its meta.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

import structlog

from core.errors import DataRejected, StorageUnavailable
from core.records import Channel
from gateway.config.mail import ImapAccountConfig
from gateway.config.model import Secrets
from gateway.intake.backoff import backoff_delay
from gateway.intake.imap_lease import FolderLease
from gateway.intake.imap_session import IMAP_ERRORS, ImapSession, ImapSettings, LiteralTooLarge
from gateway.intake.mailintake import MailIntake
from gateway.intake.mailkeys import (
    RETURN_PATH,
    imap_key,
    mail_dedup_key,
    normalise_address,
    read_headers,
)
from gateway.metrics import Metrics
from storage import LeaseStore

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Bodies fetched before they are committed together (one group commit) and marked.
_GROUP_BYTES = 8 * 1024 * 1024
_THREAD_KEY_BYTES = 1024 * 1024
_RECONNECT_BASE_SECONDS = 1.0
_STOP_GRACE_SECONDS = 5.0

SessionOpener = Callable[[ImapSettings], ImapSession]


class ImapFailure(Exception):
    """An IMAP call failed; ``stage`` names it for logs and metrics."""

    def __init__(self, stage: str, error: BaseException) -> None:
        self.stage = stage
        super().__init__(f"{stage}: {error!r}")


def imap_settings(account: ImapAccountConfig, folder: str, secrets: Secrets) -> ImapSettings:
    password = secrets.get(f"imap.{account.name}.password")
    return ImapSettings(
        account=account.name,
        host=account.host,
        port=account.effective_port,
        security=account.security,
        ca_file=account.ca_file,
        username=account.username,
        password=password.get_secret_value() if password else "",
        folder=folder,
        after=account.after,
        processed_folder=account.processed_folder,
        timeout_seconds=account.timeout_seconds,
        max_message_bytes=account.max_message_bytes,
    )


class FolderWorker:
    """Takes mail from one folder of one account, until stopped."""

    def __init__(
        self,
        *,
        settings: ImapSettings,
        account: ImapAccountConfig,
        intake: MailIntake,
        metrics: Metrics,
        open_session: SessionOpener = ImapSession.open,
        lease: FolderLease | None = None,
    ) -> None:
        self._settings = settings
        self._mailbox = account.mailbox
        self._account = account  # intervals and limits
        self._intake = intake
        self._metrics = metrics
        self._open_session = open_session
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"imap-{settings.account}"
        )
        self._session: ImapSession | None = None
        self._stopping = asyncio.Event()  # stop() was called
        self._halt = asyncio.Event()  # stop, or the lease was lost: leave the folder
        self._lease = lease
        self._lease_lost = False
        self._polling = False
        # (UIDVALIDITY, UID) of messages over the limit: left alone, reported once
        self._refused: set[tuple[int, int]] = set()
        self._uidvalidity: int | None = None
        self._last_taken = time.monotonic()
        self._log = log.bind(account=settings.account, folder=settings.folder)
        labels = (settings.account, settings.folder)
        metrics.imap_poll_lag.labels(*labels).set_function(
            lambda: time.monotonic() - self._last_taken if self._polling else 0.0
        )
        metrics.imap_polling.labels(*labels).set_function(lambda: float(self._polling))

    @property
    def polling(self) -> bool:
        """Whether this worker polls its folder now (on PostgreSQL: holds its lease)."""
        return self._polling

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                if self._lease is None:
                    await self._poll()
                elif await self._lease.acquire(self._stopping):
                    await self._poll_holding(self._lease)
        finally:
            await self._close_session()
            self._executor.shutdown(wait=False)

    async def _poll_holding(self, lease: FolderLease) -> None:
        """Poll while this replica holds the lease; give it up on a clean stop."""
        self._lease_lost = False
        self._halt.clear()
        if self._stopping.is_set():
            self._halt.set()
        self._log.info("imap_lease_taken", lease=lease.name)
        keeper = asyncio.create_task(lease.keep(self._on_lease_lost))
        try:
            await self._poll()
        finally:
            keeper.cancel()
            with suppress(asyncio.CancelledError):
                await keeper
            await self._close_session()
            if not self._lease_lost:
                await lease.release()

    def _on_lease_lost(self) -> None:
        self._lease_lost = True
        self._log.warning("imap_lease_lost")
        self._interrupt()

    async def _poll(self) -> None:
        """Take mail from the folder until halted, reconnecting with backoff."""
        self._polling = True
        self._last_taken = time.monotonic()
        failures = 0
        try:
            while not self._halt.is_set():
                try:
                    self._session = await self._call("connect", self._open_session, self._settings)
                    failures = 0
                    await self._serve(self._session)
                    continue
                except ImapFailure as exc:
                    if self._halt.is_set():
                        break
                    stage, error = exc.stage, str(exc)
                except Exception as exc:  # noqa: BLE001 - a bug must not end intake from this folder
                    self._log.exception("imap_worker_error")
                    stage, error = "internal", repr(exc)
                failures += 1
                self._metrics.imap_errors.labels(self._settings.account, stage).inc()
                delay = backoff_delay(
                    failures, base=_RECONNECT_BASE_SECONDS, cap=self._account.reconnect_max_seconds
                )
                self._log.warning("imap_failed", error=error, retry_in=round(delay, 1))
                await self._close_session()
                await self._pause(delay)
        finally:
            self._polling = False

    async def stop(self) -> None:
        """Ask the worker to end; a blocked IMAP call is interrupted."""
        self._stopping.set()
        self._interrupt()

    def _interrupt(self) -> None:
        self._halt.set()
        if self._session is not None:
            self._session.interrupt()

    async def _serve(self, session: ImapSession) -> None:
        if self._uidvalidity is not None and session.uidvalidity != self._uidvalidity:
            self._log.info(
                "imap_uidvalidity_changed", old=self._uidvalidity, new=session.uidvalidity
            )
        self._uidvalidity = session.uidvalidity
        self._log.info(
            "imap_connected", uidvalidity=session.uidvalidity, idle=session.supports_idle
        )
        while not self._halt.is_set():
            try:
                await self._take_pending(session)
            except StorageUnavailable as exc:
                # nothing was marked that was not stored: wait, then try again
                self._log.warning("imap_commit_failed", error=str(exc))
                await self._pause(self._account.poll_interval_seconds)
                continue
            if self._account.idle and session.supports_idle:
                account = self._account
                timeout = min(account.idle_timeout_seconds, account.poll_interval_seconds)
                await self._call("idle", session.wait_for_changes, timeout)
            else:
                await self._pause(self._account.poll_interval_seconds)

    async def _take_pending(self, session: ImapSession) -> None:
        pending = await self._call("search", session.pending)
        uids = [uid for uid in pending if (session.uidvalidity, uid) not in self._refused]
        size = self._account.batch_size
        for start in range(0, len(uids), size):
            if self._halt.is_set():
                return
            await self._take_batch(session, uids[start : start + size])
        self._last_taken = time.monotonic()

    async def _take_batch(self, session: ImapSession, uids: Sequence[int]) -> None:
        sizes = await self._call("fetch", session.sizes, uids)
        group: list[tuple[int, bytes]] = []
        group_bytes = 0
        for uid in uids:
            size = sizes.get(uid)
            if size is None:
                continue  # expunged meanwhile
            if size > self._settings.max_message_bytes:
                self._refuse(session, uid, size)
                continue
            raw = await self._fetch_body(session, uid)
            if raw is None:
                continue
            group.append((uid, raw))
            group_bytes += len(raw)
            if group_bytes >= _GROUP_BYTES:
                await self._store_and_mark(session, group)
                group, group_bytes = [], 0
        if group:
            await self._store_and_mark(session, group)

    async def _fetch_body(self, session: ImapSession, uid: int) -> bytes | None:
        try:
            return await self._call("fetch", session.body, uid)
        except LiteralTooLarge as exc:
            # RFC822.SIZE said otherwise; the unread literal leaves the connection unusable
            self._refuse(session, uid, exc.size)
            raise ImapFailure("fetch", exc) from exc

    async def _store_and_mark(self, session: ImapSession, group: list[tuple[int, bytes]]) -> None:
        results = await asyncio.gather(
            *(self._store(session, uid, raw) for uid, raw in group), return_exceptions=True
        )
        stored = [uid for (uid, _), result in zip(group, results, strict=True) if result is None]
        await self._call("mark", session.mark_taken, stored)
        for (uid, _), result in zip(group, results, strict=True):
            if isinstance(result, DataRejected):
                # it would be refused again: leave it unmarked in the folder, not fetched again
                self._refused.add((session.uidvalidity, uid))
                self._log.warning("imap_message_not_storable", uid=uid, error=str(result))
            elif isinstance(result, BaseException):
                raise result

    async def _store(self, session: ImapSession, uid: int, raw: bytes) -> None:
        # the envelope sender, as the delivering server wrote it into Return-Path
        return_path = read_headers(raw, (RETURN_PATH,)).get(RETURN_PATH)
        sender = normalise_address(return_path or "")
        if len(raw) > _THREAD_KEY_BYTES:
            key = await asyncio.to_thread(mail_dedup_key, raw, sender)
        else:
            key = mail_dedup_key(raw, sender)
        settings = self._settings
        meta = {
            "account": settings.account,
            "folder": settings.folder,
            "uidvalidity": str(session.uidvalidity),
            "uid": str(uid),
            "imap_key": imap_key(settings.account, settings.folder, session.uidvalidity, uid),
        }
        if return_path is not None:  # absent: unknown, which is not the null sender
            meta["mail_from"] = sender
        await self._intake.commit(
            channel=Channel.IMAP, mailbox=self._mailbox, raw=raw, meta=meta, dedup_key=key
        )

    def _refuse(self, session: ImapSession, uid: int, size: int) -> None:
        if (session.uidvalidity, uid) in self._refused:
            return
        self._refused.add((session.uidvalidity, uid))
        self._intake.count(Channel.IMAP, "too_large")
        self._log.warning(
            "imap_message_too_large",
            uid=uid,
            size=size,
            limit=self._settings.max_message_bytes,
        )

    async def _call(self, stage: str, function: Callable[..., T], *args: Any) -> T:
        """Run one blocking IMAP call in this worker's thread."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, function, *args)
        except IMAP_ERRORS as exc:
            raise ImapFailure(stage, exc) from exc

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, session.close)

    async def _pause(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._halt.wait(), seconds)


class ImapPoller:
    """Every configured account's folders, each in its own worker, while entered."""

    def __init__(self, workers: Sequence[FolderWorker]) -> None:
        self._workers = tuple(workers)

    @classmethod
    def from_config(
        cls,
        accounts: Sequence[ImapAccountConfig],
        secrets: Secrets,
        intake: MailIntake,
        metrics: Metrics,
        leases: LeaseStore | None = None,
        owner: str = "",
    ) -> ImapPoller:
        """``leases``: where replicas sharing the database agree who polls which folder
        (PostgreSQL); None polls every folder here (SQLite: one daemon per file)."""
        return cls(
            [
                FolderWorker(
                    settings=imap_settings(account, folder, secrets),
                    account=account,
                    intake=intake,
                    metrics=metrics,
                    lease=(
                        FolderLease(leases, f"imap:{account.name}:{folder}", owner)
                        if leases is not None
                        else None
                    ),
                )
                for account in accounts
                for folder in account.folders
            ]
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ImapPoller]:
        tasks = [
            asyncio.create_task(worker.run(), name=f"imap-{index}")
            for index, worker in enumerate(self._workers)
        ]
        try:
            yield self
        finally:
            for worker in self._workers:
                await worker.stop()
            if tasks:
                done, late = await asyncio.wait(tasks, timeout=_STOP_GRACE_SECONDS)
                for task in late:
                    task.cancel()
                for task in (*done, *late):
                    with suppress(asyncio.CancelledError):
                        await task
