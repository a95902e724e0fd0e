"""How the pipeline lets intake go first: acknowledging senders comes before
correlation, which may lag a little while senders wait for the connection."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Protocol

from core.records import Event, IntakeRecord

# records per round while intake is busy
_BUSY_BATCH = 32
# events per transaction: while intake waits for the connection, and when it does not
_BUSY_EVENTS = 16
IDLE_EVENTS = 4096
# intake counts as busy for this long after its latest commit request
_BUSY_WINDOW_SECONDS = 0.5
# intake counts as pressed when it spends this share of its time committing
_PRESSED_LOAD = 0.5

Parsed = list[tuple[IntakeRecord, list[Event]]]


class IntakeActivity(Protocol):
    """What the pipeline needs to know of the intake writer to let it go first."""

    @property
    def idle(self) -> asyncio.Event: ...

    def active_within(self, seconds: float) -> bool: ...

    def load(self) -> float:
        """The share of the last second or so intake spent committing."""
        ...

    def waiting(self) -> bool:
        """Whether intake has commits queued; may be asked from another thread."""
        ...


class IntakePacer:
    """``batch_size``: records per round when intake is quiet; ``max_defer_seconds``:
    how long a round waits for intake to go idle; ``busy_share``: the share of the
    loop's time correlation may take while senders keep coming."""

    def __init__(
        self,
        intake: IntakeActivity | None,
        *,
        batch_size: int,
        max_defer_seconds: float,
        busy_share: float,
    ) -> None:
        self._intake = intake
        self._batch_size = batch_size
        self._max_defer = max_defer_seconds
        self._share = busy_share

    def batch_limit(self) -> int:
        """Short transactions while intake is busy: it waits for the connection."""
        if self._intake_busy():
            return min(self._batch_size, _BUSY_BATCH)
        return self._batch_size

    async def defer(self) -> None:
        if self._intake is None or self._intake.idle.is_set():
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(self._intake.idle.wait(), self._max_defer)

    async def pace(self, worked_seconds: float) -> None:
        """While senders keep coming, rest so that correlation takes at most its share.

        Acknowledging comes first: a sender that waits retries, and retries
        make a storm worse. Correlation still advances at its share, and runs
        at full speed again as soon as intake pauses.
        """
        share = self._share
        if self._intake_pressed() and 0 < share < 1:
            await asyncio.sleep(worked_seconds * (1 - share) / share)

    @property
    def intake(self) -> IntakeActivity | None:
        return self._intake

    def events_per_transaction(self) -> int:
        """Few while intake waits for the connection, many when it does not."""
        return _BUSY_EVENTS if self._intake_busy() else IDLE_EVENTS

    def chunks(self, parsed: Parsed) -> list[Parsed]:
        """Transactions of bounded size: small while senders wait for the connection.

        A record bigger than that is a chunk of its own, applied in parts (see
        gateway/processing/applier.py).
        """
        limit = self.events_per_transaction()
        chunks: list[Parsed] = []
        current: Parsed = []
        size = 0
        for item in parsed:
            if current and size + len(item[1]) > limit:
                chunks.append(current)
                current, size = [], 0
            current.append(item)
            size += len(item[1])
        if current:
            chunks.append(current)
        return chunks

    def _intake_pressed(self) -> bool:
        """Senders wait for each other: intake spent most of the last second committing.
        A steady trickle of senders (however long it lasts) does not hold correlation
        back: at a share of its time it could fall behind for good."""
        return self._intake is not None and self._intake.load() >= _PRESSED_LOAD

    def _intake_busy(self) -> bool:
        """Senders asked for commits within the last moment (not only right now: between
        two group commits the writer is idle for an instant)."""
        return self._intake is not None and self._intake.active_within(_BUSY_WINDOW_SECONDS)
