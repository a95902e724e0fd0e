"""Who may use the console and the API, through the real HTTP listener: login,
roles, CSRF, stale sessions, cookie flags, login rate limiting, trusted proxies
and the read-only API token."""

from __future__ import annotations

import time
from datetime import timedelta

import aiohttp

from gateway.web.sessions import SessionCodec, password_stamp
from storage import audit
from tests.conftest import ConfigWriter
from tests.integration.console_support import (
    SECRET,
    console_section,
    log_in,
    page_csrf,
    person_client,
)
from tests.integration.daemon import RunningDaemon, eventually, running_daemon


async def _incident(daemon: RunningDaemon) -> str:
    status, _ = await daemon.post_json(
        "/webhooks/generic", {"title": "disk full", "severity": "critical", "resource": "db1"}
    )
    assert status == 202
    found = await eventually(daemon.incidents, lambda items: len(items) == 1)
    return str(found[0]["key"])


async def test_operator_acts_viewer_cannot_and_no_csrf_changes_nothing(
    write_config: ConfigWriter, database_url: str
) -> None:
    loaded = write_config(database_url, console=console_section())
    async with running_daemon(loaded) as daemon:
        key = await _incident(daemon)
        async with person_client(daemon.base_url) as viewer:
            assert await log_in(viewer, "vera") == 303
            token = await page_csrf(viewer, f"/ui/incidents/{key}")
            async with viewer.post(
                f"/ui/incidents/{key}/acknowledge", data={"csrf": token}, allow_redirects=False
            ) as response:
                assert response.status == 403
        async with person_client(daemon.base_url) as operator:
            assert await log_in(operator, "olga") == 303
            async with operator.post(
                f"/ui/incidents/{key}/acknowledge", data={}, allow_redirects=False
            ) as response:
                assert response.status == 403
            async with operator.post(
                f"/ui/incidents/{key}/acknowledge",
                data={"csrf": "forged"},
                allow_redirects=False,
            ) as response:
                assert response.status == 403
            assert (await daemon.incidents())[0]["status"] == "new"
            token = await page_csrf(operator, f"/ui/incidents/{key}")
            async with operator.post(
                f"/ui/incidents/{key}/acknowledge",
                data={"csrf": token, "comment": "on it"},
                allow_redirects=False,
            ) as response:
                assert response.status == 303
            async with operator.post(
                f"/ui/incidents/{key}/comment",
                data={"csrf": token, "comment": "printer swapped"},
                allow_redirects=False,
            ) as response:
                assert response.status == 303
        status, body = await daemon.get_json(f"/api/v1/incidents/{key}")
        assert status == 200
        assert body["status"] == "acknowledged"
        kinds = [(e["kind"], e["author"], e["text"]) for e in body["timeline"][-2:]]
        assert kinds == [("acknowledged", "olga", "on it"), ("comment", "olga", "printer swapped")]
        rows = await audit.entries(daemon.services.db)
        assert [(r["action"], r["actor"], r["via"], r["subject"]) for r in rows[-2:]] == [
            ("incident.acknowledged", "olga", "console@127.0.0.1", key),
            ("incident.comment", "olga", "console@127.0.0.1", key),
        ]
        assert (await audit.verify(daemon.services.db)).intact


async def test_login_refusals_and_rate_limit(write_config: ConfigWriter) -> None:
    loaded = write_config(console=console_section(login_attempts=3))
    async with running_daemon(loaded) as daemon, person_client(daemon.base_url) as client:
        async with client.post(
            "/ui/login", data={"name": "olga", "password": "x"}, allow_redirects=False
        ) as response:
            assert response.status == 403  # no login form token
        assert await log_in(client, "olga", "wrong password") == 401
        assert await log_in(client, "nobody", "wrong password") == 401
        assert await log_in(client, "olga", "wrong again") == 401
        # three failures from this address: even the right password waits now
        assert await log_in(client, "olga") == 429
        async with client.get("/ui/incidents", allow_redirects=False) as response:
            assert response.status == 303


async def test_session_cookie_flags_and_secure_behind_a_trusted_tls_proxy(
    write_config: ConfigWriter,
) -> None:
    loaded = write_config(
        console=console_section(), http={"listen": "127.0.0.1:0", "trusted_proxies": ["127.0.0.1"]}
    )
    async with running_daemon(loaded) as daemon:
        for proto, secure in (("http", False), ("https", True)):
            async with person_client(daemon.base_url) as client:
                client.headers["X-Forwarded-Proto"] = proto
                client.headers["X-Forwarded-For"] = "198.51.100.7"
                async with client.get("/ui/login") as response:
                    cookie = response.cookies["ig_login"]
                    assert cookie["httponly"] and cookie["samesite"] == "Lax"
                    assert bool(cookie["secure"]) is secure
                    token = (await response.text()).split('name="csrf" value="')[1].split('"')[0]
                # a Secure cookie is not sent back over plain HTTP: the test hands it over
                async with client.post(
                    "/ui/login",
                    data={"name": "olga", "password": "correct horse battery", "csrf": token},
                    headers={"Cookie": f"ig_login={cookie.value}"},
                    allow_redirects=False,
                ) as response:
                    assert response.status == 303
                    session = response.cookies["ig_session"]
                    assert session["httponly"] and session["samesite"] == "Lax"
                    assert bool(session["secure"]) is secure


async def test_a_stale_or_forged_session_goes_to_login(write_config: ConfigWriter) -> None:
    loaded = write_config(console=console_section())
    person = loaded.config.console.people[0]
    codec = SessionCodec(SECRET.encode(), timedelta(minutes=60), timedelta(hours=12))
    long_ago = time.time() - 2 * 3600
    stale = codec.encode(codec.begin(person.name, password_stamp(person.password_hash), long_ago))
    fresh = codec.encode(
        codec.begin(person.name, password_stamp(person.password_hash), time.time())
    )
    async with running_daemon(loaded) as daemon, person_client(daemon.base_url) as client:
        for cookie, expected in ((stale, 303), (fresh[:-2] + "xx", 303), (fresh, 200)):
            async with client.get(
                "/ui/incidents",
                headers={"Cookie": f"ig_session={cookie}"},
                allow_redirects=False,
            ) as response:
                assert response.status == expected, cookie
                if expected == 303:
                    assert response.headers["Location"].startswith("/ui/login?next=")


async def test_a_proxy_on_loopback_does_not_make_every_client_loopback(
    write_config: ConfigWriter,
) -> None:
    """Without api_token the API is for loopback clients; a request relayed by an
    undeclared proxy on loopback was let in as loopback (200) before the fix."""
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    async with running_daemon(write_config()) as daemon:
        async with daemon.http.get("/api/v1/incidents", headers=forwarded) as response:
            assert response.status == 401
        async with daemon.http.get("/api/v1/incidents") as response:
            assert response.status == 200
    loaded = write_config(http={"listen": "127.0.0.1:0", "trusted_proxies": ["127.0.0.0/8"]})
    async with running_daemon(loaded) as daemon:
        async with daemon.http.get("/api/v1/incidents", headers=forwarded) as response:
            assert response.status == 401  # the proxy is believed: the client is remote
        local = {"X-Forwarded-For": "127.0.0.1"}
        async with daemon.http.get("/api/v1/incidents", headers=local) as response:
            assert response.status == 200


async def test_read_token_reads_but_does_not_write(write_config: ConfigWriter) -> None:
    loaded = write_config(
        http={"listen": "127.0.0.1:0", "api_token": "write-token", "api_read_token": "read-token"}
    )
    async with running_daemon(loaded) as daemon:

        async def call(method: str, token: str | None) -> int:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with daemon.http.request(
                method, "/api/v1/silences", headers=headers, json=None
            ) as response:
                return response.status

        assert await call("GET", None) == 401
        assert await call("GET", "read-token") == 200
        assert await call("GET", "write-token") == 200
        assert await call("POST", "read-token") == 403
        assert await call("POST", "write-token") == 400  # let in; the empty body is refused
        assert await call("GET", "other") == 401


async def test_console_pages_carry_security_headers(write_config: ConfigWriter) -> None:
    loaded = write_config(console=console_section())
    async with running_daemon(loaded) as daemon, aiohttp.ClientSession(daemon.base_url) as client:
        async with client.get("/ui/login") as response:
            policy = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        async with client.get("/ui/static/web/vendor/htmx.min.js") as response:
            assert response.status == 200
            assert b"htmx" in await response.read()


async def test_mark_major_and_link_are_on_the_timeline(
    write_config: ConfigWriter, database_url: str
) -> None:
    loaded = write_config(database_url, console=console_section())
    async with running_daemon(loaded) as daemon:
        for host in ("db1", "db2"):
            alert = {"name": "disk full", "resource": host, "severity": "critical"}
            assert (await daemon.post_json("/webhooks/generic", alert))[0] == 202
        found = await eventually(daemon.incidents, lambda items: len(items) == 2)
        first, second = sorted(found, key=lambda item: int(item["id"]))
        async with person_client(daemon.base_url) as operator:
            assert await log_in(operator, "olga") == 303
            token = await page_csrf(operator, f"/ui/incidents/{first['key']}")
            for path, form in (
                ("major", {"major": "true", "comment": "whole floor"}),
                ("link", {"other": second["key"]}),
                ("link", {"other": "INC-999999"}),
            ):
                async with operator.post(
                    f"/ui/incidents/{first['key']}/{path}",
                    data={"csrf": token, **form},
                    allow_redirects=False,
                ) as response:
                    expected = 400 if form.get("other") == "INC-999999" else 303
                    assert response.status == expected, await response.text()
        status, body = await daemon.get_json(f"/api/v1/incidents/{first['key']}")
        assert status == 200
        assert body["major"] is True and body["linked_incident_id"] == second["id"]
        kinds = [(e["kind"], e["author"]) for e in body["timeline"]]
        assert ("major_set", "olga") in kinds and ("linked", "olga") in kinds
