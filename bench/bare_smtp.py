"""The ceiling for SMTP intake: aiosmtpd's protocol on uvloop, answering 250 to
every message and storing nothing. Run as a process: ``python -m bench.bare_smtp PORT``."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import uvloop
from aiosmtpd.smtp import SMTP


class DiscardingHandler:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK queued as 0"


async def serve(port: int) -> None:
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    handler = DiscardingHandler()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="bare.bench", loop=loop), "127.0.0.1", port
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    uvloop.run(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
