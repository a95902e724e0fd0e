"""Login rate limiting: after ``attempts`` failures within ``window`` seconds from one
client address or for one user name, further logins are refused until the oldest
failure leaves the window. Bounded memory: the least recently failed keys go first."""

from __future__ import annotations

from collections import OrderedDict, deque

_MAX_KEYS = 10_000


class LoginLimiter:
    def __init__(self, attempts: int, window: float) -> None:
        self._attempts = attempts
        self._window = window
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float]:
        found = self._failures.get(key)
        if found is None:
            return deque()
        while found and now - found[0] > self._window:
            found.popleft()
        return found

    def retry_after(self, keys: tuple[str, ...], now: float) -> float:
        """Seconds until a login may be tried again; 0 when it may now."""
        wait = 0.0
        for key in keys:
            recent = self._recent(key, now)
            if len(recent) >= self._attempts:
                wait = max(wait, self._window - (now - recent[0]))
        return wait

    def failed(self, keys: tuple[str, ...], now: float) -> None:
        for key in keys:
            recent = self._recent(key, now)
            recent.append(now)
            self._failures[key] = recent
            self._failures.move_to_end(key)
        while len(self._failures) > _MAX_KEYS:
            self._failures.popitem(last=False)

    def succeeded(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            self._failures.pop(key, None)
