"""An HMAC-signed webhook whose timestamp is not a finite time is refused."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tests.conftest import ConfigWriter
from tests.integration.daemon import running_daemon

BODY = b'{"name": "n", "resource": "r"}'


@pytest.mark.parametrize("stamp", ["nan", "NaN", "inf", "-Infinity", "1e999"])
async def test_signed_request_with_a_non_finite_timestamp_is_401(
    write_config: ConfigWriter, stamp: str
) -> None:
    auth = {"type": "hmac", "secret": "k3y", "replay_window_seconds": 60}
    loaded = write_config(integrations=[{"name": "generic", "kind": "generic", "auth": auth}])
    # correctly signed: only the timestamp is wrong
    signature = hmac.new(b"k3y", stamp.encode() + b"." + BODY, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Signature": f"sha256={signature}",
        "X-Timestamp": stamp,
    }
    async with running_daemon(loaded) as daemon:
        async with daemon.http.post("/webhooks/generic", data=BODY, headers=headers) as response:
            assert response.status == 401
            assert (await response.json())["error"] == "bad_signature"
        assert await daemon.incidents() == []
