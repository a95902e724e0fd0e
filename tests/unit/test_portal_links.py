"""Status page links: signed per incident, expiring, rotated keys keep verifying."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.portal.links import LinkRefused, LinkSigner

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
A = "key-a-0123456789abcdef0123456789abcdef"
B = "key-b-0123456789abcdef0123456789abcdef"


def _signer(keys: list[str], at: datetime, days: int = 30) -> LinkSigner:
    return LinkSigner(
        keys, base_url="https://h.example/", lifetime=timedelta(days=days), clock=lambda: at
    )


def test_a_link_names_its_incident_and_only_it() -> None:
    signer = _signer([A], T0)
    url = signer.url({"id": 7, "key": "INC-000007"})
    assert url.startswith("https://h.example/portal/status/")
    claims = signer.verify(url.rsplit("/", 1)[1])
    assert (claims.incident_id, claims.key) == (7, "INC-000007")
    assert signer.token(7, "INC-000007") != signer.token(8, "INC-000008")


@pytest.mark.parametrize(
    ("signed_at", "valid"),
    [(T0 - timedelta(days=29, hours=23), True), (T0 - timedelta(days=30, seconds=1), False)],
)
def test_a_link_expires_after_its_lifetime(signed_at: datetime, valid: bool) -> None:
    token = _signer([A], signed_at).token(1, "INC-000001")
    if valid:
        assert _signer([A], T0).verify(token).incident_id == 1
    else:
        with pytest.raises(LinkRefused) as refused:
            _signer([A], T0).verify(token)
        assert refused.value.reason == "expired"


def test_the_first_key_signs_and_every_key_verifies() -> None:
    old_link = _signer([A], T0).token(1, "INC-000001")
    rotated = _signer([B, A], T0)
    assert rotated.verify(old_link).incident_id == 1
    new_link = rotated.token(1, "INC-000001")
    assert _signer([B], T0).verify(new_link).incident_id == 1
    with pytest.raises(LinkRefused, match="tampered"):
        _signer([A], T0).verify(new_link)  # signed with B, which A alone does not know


@pytest.mark.parametrize("bad", ["", "x", "abc.def.ghi", "eyJpIjoxfQ.AAAA.BBBB"])
def test_anything_else_is_tampered(bad: str) -> None:
    with pytest.raises(LinkRefused, match="tampered"):
        _signer([A], T0).verify(bad)
