"""The ceiling for webhook intake: an aiohttp handler that reads the body,
checks it is JSON and answers 202, committing nothing. Run as a process:
``python -m bench.bare_http PORT``."""

from __future__ import annotations

import sys

import orjson
import uvloop
from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    orjson.loads(await request.read())
    return web.json_response({"status": "accepted"}, status=202)


async def ready(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    app = web.Application()
    app.add_routes([web.post("/webhooks/{name}", accept), web.get("/readyz", ready)])
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
