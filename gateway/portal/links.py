"""Signed, expiring links to one incident's status page.

A token names the incident (id and key) and is signed with the first of the
configured keys; every key verifies, so a key can be rotated without breaking
the links already sent (until they expire). The signature covers the time of
signing: a link is refused ``link_days`` after it was made. Time comes from
the injected clock, so tests make old links without waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

# Separates these tokens from anything else ever signed with the same keys.
_SALT = "intake-gateway.portal.status"
STATUS_PATH = "/portal/status/"


class LinkRefused(Exception):
    """The token is not one of ours (``reason`` tampered) or too old (``expired``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LinkClaims:
    incident_id: int
    key: str


def _clocked_signer(clock: Callable[[], datetime]) -> type[TimestampSigner]:
    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock().timestamp())

    return ClockedSigner


class LinkSigner:
    def __init__(
        self,
        keys: Sequence[str],
        *,
        base_url: str,
        lifetime: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        # itsdangerous signs with the last key of its list; ours are newest first
        self._serializer = URLSafeTimedSerializer(
            list(reversed(keys)), salt=_SALT, signer=_clocked_signer(clock)
        )
        self._base_url = base_url.rstrip("/")
        self._max_age = int(lifetime.total_seconds())

    def token(self, incident_id: int, key: str) -> str:
        return str(self._serializer.dumps({"i": incident_id, "k": key}))

    def url(self, incident: dict[str, Any]) -> str:
        """The status page's address for an incident as the API shows it."""
        token = self.token(int(incident["id"]), str(incident.get("key") or ""))
        return f"{self._base_url}{STATUS_PATH}{token}"

    def verify(self, token: str) -> LinkClaims:
        """The incident a token names; raises LinkRefused."""
        try:
            data = self._serializer.loads(token, max_age=self._max_age)
        except SignatureExpired:
            raise LinkRefused("expired") from None
        except BadSignature:
            raise LinkRefused("tampered") from None
        if not isinstance(data, dict) or not isinstance(data.get("i"), int):
            raise LinkRefused("tampered")
        return LinkClaims(int(data["i"]), str(data.get("k") or ""))
