"""One daemon per SQLite file: the file's lock, held while the database is open."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from core.errors import ConfigError


class SqliteLock:
    """One daemon per SQLite file: a second one on the same file would race it."""

    def __init__(self, database: Path) -> None:
        self._path = database.with_name(database.name + ".lock")
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        handle = self._path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(
                f"{self._path}: the SQLite database is in use by {holder}; "
                "run one replica per SQLite file, or use PostgreSQL for several replicas"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
