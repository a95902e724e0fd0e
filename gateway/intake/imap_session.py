"""One IMAP connection to one folder, as blocking calls (run them in a thread).

imapclient (over imaplib) blocks on the socket, so the poller runs every
method here in its own worker thread, never on the event loop. Every socket
operation has a timeout. A literal in a server response larger than the
message limit raises :class:`LiteralTooLarge` before it is read: RFC822.SIZE
is checked first, and this guards against a server whose literal says
otherwise.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientError
from imapclient.imap4 import IMAP4WithTimeout
from imapclient.tls import IMAP4_TLS

SEEN = b"\\Seen"
DELETED = b"\\Deleted"

# What a failed IMAP call raises: protocol errors, socket errors, timeouts, TLS.
IMAP_ERRORS: tuple[type[BaseException], ...] = (IMAPClientError, OSError, EOFError)


class LiteralTooLarge(Exception):
    """The server announced a literal larger than the limit; the connection is unusable."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        super().__init__(f"server sent a {size}-byte literal; the limit is {limit}")


class _LiteralLimit:
    """imaplib reads a literal with ``read(size)``: refuse absurd sizes before reading."""

    literal_limit = 1024 * 1024

    def read(self, size: int) -> bytes:
        if size > self.literal_limit:
            raise LiteralTooLarge(size, self.literal_limit)
        data: bytes = super().read(size)  # type: ignore[misc]
        return data


class _PlainIMAP4(_LiteralLimit, IMAP4WithTimeout):  # type: ignore[misc]
    pass


class _TlsIMAP4(_LiteralLimit, IMAP4_TLS):  # type: ignore[misc]
    pass


class _BoundedClient(IMAPClient):  # type: ignore[misc]
    """IMAPClient whose imaplib connection refuses literals above ``literal_limit``."""

    def __init__(self, *args: Any, literal_limit: int, **kwargs: Any) -> None:
        self._literal_limit = literal_limit
        super().__init__(*args, **kwargs)

    def _create_IMAP4(self) -> Any:  # imapclient's one place that builds the connection
        timeout = self._timeout.connect
        imap: _LiteralLimit
        if self.ssl:
            imap = _TlsIMAP4(self.host, self.port, self.ssl_context, timeout)
        else:
            imap = _PlainIMAP4(self.host, self.port, timeout)
        imap.literal_limit = self._literal_limit
        return imap


@dataclass(frozen=True, slots=True)
class ImapSettings:
    account: str
    host: str
    port: int
    security: Literal["ssl", "starttls", "none"]
    ca_file: Path | None  # None: the system's CAs
    username: str
    password: str
    folder: str
    after: Literal["seen", "move"]
    processed_folder: str | None
    timeout_seconds: float
    max_message_bytes: int


class ImapSession:
    """A logged-in connection with ``settings.folder`` selected. Not thread-safe:
    one thread at a time, except :meth:`interrupt`."""

    def __init__(self, client: IMAPClient, settings: ImapSettings, uidvalidity: int) -> None:
        self._client = client
        self._settings = settings
        self.uidvalidity = uidvalidity
        capabilities = set(client.capabilities())
        self.supports_idle = b"IDLE" in capabilities
        self._supports_move = b"MOVE" in capabilities
        self._supports_uidplus = b"UIDPLUS" in capabilities

    @classmethod
    def open(cls, settings: ImapSettings) -> ImapSession:
        """Connect, secure, log in and select the folder. Raises one of IMAP_ERRORS."""
        context = None
        if settings.security != "none":
            context = ssl.create_default_context(cafile=settings.ca_file)
        client = _BoundedClient(
            settings.host,
            settings.port,
            ssl=settings.security == "ssl",
            ssl_context=context,
            timeout=SocketTimeout(connect=settings.timeout_seconds, read=settings.timeout_seconds),
            literal_limit=settings.max_message_bytes,
        )
        try:
            if settings.security == "starttls":
                client.starttls(context)
            client.login(settings.username, settings.password)
            processed = settings.processed_folder
            if settings.after == "move" and processed and not client.folder_exists(processed):
                client.create_folder(processed)
            selected = client.select_folder(settings.folder)
        except BaseException:
            _shutdown(client)
            raise
        return cls(client, settings, int(selected[b"UIDVALIDITY"]))

    def pending(self) -> list[int]:
        """UIDs not taken yet, oldest first: unseen ones, or (after: move) all."""
        criteria = ["NOT", "DELETED"]
        if self._settings.after == "seen":
            criteria.append("UNSEEN")
        return sorted(int(uid) for uid in self._client.search(criteria))

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """RFC822.SIZE of each message still there (cheap: no body is sent)."""
        response = self._client.fetch(list(uids), ["RFC822.SIZE"])
        return {int(uid): int(data[b"RFC822.SIZE"]) for uid, data in response.items()}

    def body(self, uid: int) -> bytes | None:
        """The raw message, without setting \\Seen; None if it is gone."""
        response = self._client.fetch([uid], ["BODY.PEEK[]"])
        data = response.get(uid)
        if data is None or b"BODY[]" not in data:
            return None
        raw: bytes = data[b"BODY[]"]
        return raw

    def mark_taken(self, uids: Iterable[int]) -> None:
        """\\Seen, or moved to the processed folder."""
        uids = list(uids)
        if not uids:
            return
        if self._settings.after == "seen":
            self._client.add_flags(uids, [SEEN], silent=True)
            return
        target = self._settings.processed_folder
        if self._supports_move:
            self._client.move(uids, target)
            return
        self._client.copy(uids, target)
        self._client.add_flags(uids, [SEEN, DELETED], silent=True)
        if self._supports_uidplus:
            self._client.uid_expunge(uids)
        else:
            self._client.expunge()

    def wait_for_changes(self, timeout: float) -> None:
        """IDLE until the server reports something or ``timeout`` passes, then end IDLE."""
        self._client.idle()
        try:
            self._client.idle_check(timeout=timeout)
        finally:
            self._client.idle_done()

    def interrupt(self) -> None:
        """From any thread: make a blocked call return at once (with an error)."""
        try:
            self._client.socket().shutdown(socket.SHUT_RDWR)
        except OSError:
            return  # already closed: nothing is blocked on it

    def close(self) -> None:
        try:
            self._client.logout()
        except IMAP_ERRORS:
            _shutdown(self._client)


def _shutdown(client: IMAPClient) -> None:
    try:
        client.shutdown()
    except IMAP_ERRORS:
        return  # the socket is gone either way
