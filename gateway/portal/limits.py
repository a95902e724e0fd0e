"""Rate limits of the portal's forms: per client address and per requester address
(or incident), each a token bucket, so one sender's flood is refused without
touching anyone else. The table of buckets is bounded: the least recently
used go first, which at worst gives a flooding address a fresh bucket."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web

from gateway.intake.ratelimit import TokenBucket
from gateway.web.clientaddr import ClientAddresses

_MAX_BUCKETS = 50_000


class Buckets:
    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = burst
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, name: str) -> bool:
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = TokenBucket(self._rate, self._burst, self._clock)
            if len(self._buckets) > _MAX_BUCKETS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(name)
        return bucket.take() == 0.0


class PortalLimits:
    """``per_address``: posts a minute from one client IP; ``per_sender``: posts a minute
    for one requester address or incident."""

    def __init__(
        self,
        *,
        per_address: float,
        per_sender: float,
        burst: int,
        clients: ClientAddresses,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients = clients
        self._addresses = Buckets(per_address, burst, clock)
        self._senders = Buckets(per_sender, burst, clock)

    def client(self, request: web.Request) -> str:
        """The client's address (behind trusted proxies, http.trusted_proxies)."""
        return self._clients.describe(request)

    def allow_sender(self, sender: str) -> bool:
        return self._senders.take(sender.lower())

    def allow(self, request: web.Request, sender: str) -> bool:
        # the client address first: a flood from one address stops there
        if not self._addresses.take(self.client(request)):
            return False
        return not sender or self._senders.take(sender.lower())
