"""The console in tests: a daemon with people, a cookie-keeping client, a browser."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from gateway.web.passwords import hash_password
from tests.conftest import require

PASSWORD = "correct horse battery"
# hashed once per test run: argon2 is slow on purpose
_HASH = hash_password(PASSWORD)
SECRET = "a-session-secret-for-tests-only"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def console_section(**more: Any) -> dict[str, Any]:
    return {
        "people": [
            {"name": "olga", "role": "operator", "password_hash": _HASH},
            {"name": "vera", "role": "viewer", "password_hash": _HASH},
            {"name": "adam", "role": "admin", "password_hash": _HASH},
        ],
        "session_secret": SECRET,
        **more,
    }


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


@asynccontextmanager
async def person_client(base_url: str) -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe=True: keep cookies of an IP-address host (127.0.0.1)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=base_url, cookie_jar=jar) as client:
        yield client


async def log_in(client: aiohttp.ClientSession, name: str, password: str = PASSWORD) -> int:
    async with client.get("/ui/login") as response:
        token = csrf_of(await response.text())
    async with client.post(
        "/ui/login",
        data={"name": name, "password": password, "csrf": token, "next": "/ui/incidents"},
        allow_redirects=False,
    ) as response:
        return response.status


async def page_csrf(client: aiohttp.ClientSession, path: str) -> str:
    async with client.get(path) as response:
        assert response.status == 200, await response.text()
        return csrf_of(await response.text())


def require_chromium() -> None:
    require("chromium", CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK), str(CHROMIUM))
