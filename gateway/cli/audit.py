"""``intake-gateway audit verify``: walk the audit log's hash chain and say whether
it is intact (the rows checked and the head hash) or which row breaks it."""

from __future__ import annotations

import asyncio
import sys

from core.errors import GatewayError
from gateway.config.model import LoadedConfig
from storage import Verification, audit, reading


async def _verify(loaded: LoadedConfig) -> Verification:
    storage = loaded.config.storage
    async with reading(storage.url, storage.connect_timeout_seconds) as db:
        return await audit.verify(db)


def audit_verify(loaded: LoadedConfig) -> int:
    """0 when the chain is intact, 1 when a row breaks it or it cannot be read."""
    try:
        result = asyncio.run(_verify(loaded))
    except GatewayError as exc:
        print(f"audit verify: cannot read the audit log: {exc}", file=sys.stderr)
        return 1
    if result.intact:
        print(f"audit log intact: {result.rows} rows, head {result.head}")
        return 0
    print(
        f"audit log BROKEN at row {result.broken_id}: {result.reason} "
        f"({result.rows} rows before it are intact)",
        file=sys.stderr,
    )
    return 1
