"""The OpenAPI description covers exactly the routes the daemon's application serves."""

from __future__ import annotations

from gateway.api.openapi import openapi_document
from gateway.app import build
from tests.conftest import ConfigWriter

PAGES = ("/ui", "/portal")


def test_the_description_lists_every_route_of_the_real_application(
    write_config: ConfigWriter,
) -> None:
    app = build(write_config()).http_app()
    served = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        # aiohttp answers HEAD for every GET route by itself; pages for people
        # (/ui/, /portal/) answer HTML and are not part of the API's description
        if route.method != "HEAD" and not path.startswith(PAGES):
            served.add((route.method.lower(), path))
    described = {
        (method, path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }
    assert served == described, {
        "served, not described": sorted(served - described),
        "described, not served": sorted(described - served),
    }
