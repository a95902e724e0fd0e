"""The request form at /portal/, end to end on both engines: a request with a file is
stored as one portal record, judged by the rules into an incident of its type, and
answered by mail with the status page link; markup in fields and file names comes back
as text; a form with any problem (missing fields, a file too large, of a type not
allowed or not what it claims, a bot's honeypot) stores nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
from markupsafe import escape

from storage import models
from tests.conftest import ConfigWriter
from tests.integration.daemon import RunningDaemon, eventually, running_daemon
from tests.integration.fakes.mail import capturing_smtp
from tests.integration.portal_support import answers, link_in, page, path_of, portal_config

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SUBJECT = '<script>alert("s")</script> 需要一个新的共享邮箱'
FILENAME = "<img src=x onerror=alert(1)>.png"
FORM = {
    "acknowledge": {"sink": "answers"},
    "max_attachments": 2,
    "max_attachment_bytes": 2048,
    "fields": {
        "change_request": [
            {"name": "justification", "label": "Why", "label_zh": "变更原因", "required": True}
        ]
    },
}


def _form(files: list[tuple[str, bytes, str]] = (), **values: str) -> aiohttp.FormData:  # type: ignore[assignment]
    data = aiohttp.FormData()
    fields = {
        "type": "service_request",
        "service": "mail",
        "name": "<b>Eve</b>",
        "email": "Eve@Client.example",
        "subject": SUBJECT,
        "text": "给财务部用",
        "website": "",
        **values,
    }
    for name, value in fields.items():
        data.add_field(name, value)
    for filename, content, content_type in files:
        data.add_field("files", content, filename=filename, content_type=content_type)
    return data


async def _post(
    daemon: RunningDaemon, data: aiohttp.FormData, **headers: str
) -> tuple[int, str, str]:
    headers.setdefault("Accept-Language", "en")
    async with daemon.http.post(
        "/portal/", data=data, headers=headers, allow_redirects=False
    ) as answer:
        return answer.status, answer.headers.get("Location", ""), await answer.text()


async def _portal_records() -> int:
    return await models.IntakeRecordRow.filter(channel="portal").count()


async def test_a_request_with_a_file_opens_an_incident_answered_with_its_link(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    async with capturing_smtp() as (capture, port):
        loaded = portal_config(
            write_config, database_url, port, catalogue=tmp_path / "catalogue.yaml", form=FORM
        )
        async with running_daemon(loaded) as daemon:
            status, text = await page(daemon, "/portal/", "zh-CN")
            assert status == 200
            assert "服务请求" in text and "变更原因" in text and ">mail<" in text

            status, location, _ = await _post(daemon, _form([(FILENAME, PNG, "image/png")]))
            assert status == 303 and location.startswith("/portal/thanks?ref=P-"), location
            status, text = await page(daemon, location, "zh-CN")
            assert status == 200 and "您的请求已收到" in text

            [incident] = await eventually(daemon.incidents, lambda items: len(items) == 1)
            assert incident["type"] == "service_request"
            assert incident["service"] == "mail"
            assert incident["requester"] == "eve@client.example"
            assert incident["title"] == SUBJECT
            [answer] = await answers(capture)
            assert answer["To"] == "eve@client.example"
            assert incident["key"] in answer["Subject"]
            status, text = await page(daemon, path_of(link_in(answer)))
            assert status == 200
            assert str(escape(SUBJECT)) in text and "<script>alert" not in text

            _, detail = await daemon.get_json(f"/api/v1/incidents/{incident['id']}")
            [opened] = [entry for entry in detail["timeline"] if entry["kind"] == "opened"]
            [attachment] = opened["data"]["attachments"]
            assert attachment["filename"] == FILENAME
            assert attachment["size"] == len(PNG)
            assert attachment["content_type"] == "image/png"
            assert detail["events"][0]["labels"]["incident_type"] == "service_request"


async def test_a_form_with_any_problem_stores_nothing_and_says_why(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    async with capturing_smtp() as (_, port):
        loaded = portal_config(
            write_config,
            database_url,
            port,
            catalogue=tmp_path / "catalogue.yaml",
            form=FORM,
            rate_limit={"burst": 50},  # more posts from one address than a person makes
        )
        async with running_daemon(loaded) as daemon:
            cases: list[tuple[aiohttp.FormData, str]] = [
                (_form(subject="", email="not-an-address"), "Give a short summary"),
                (_form(service="nonexistent"), "Choose the service concerned"),
                (_form(type="change_request"), "This field is required"),
                (_form(type="wish"), "Choose what kind of request"),
                (_form([(FILENAME, PNG + b"\x00" * 4096, "image/png")]), "The file is too large"),
                (
                    _form([(FILENAME, b"MZ\x90\x00 not a png", "image/png")]),
                    "does not match its type",
                ),
                (_form([("tool.exe", b"MZ\x90\x00", "application/x-msdownload")]), "not accepted"),
                (
                    _form([(f"{n}.png", PNG, "image/png") for n in range(3)]),
                    "Too many files",
                ),
            ]
            for data, message in cases:
                status, _, text = await _post(daemon, data)
                assert status == 400 and message in text, (message, status)
                assert "<img src=x" not in text and "<script>alert" not in text
            # file names come back as text
            status, _, text = await _post(daemon, _form([(FILENAME, PNG * 100, "image/png")]))
            assert str(escape(FILENAME)) in text
            # a file far over the limit is not read to its end: the whole form is refused
            status, _, text = await _post(daemon, _form([("big.png", PNG * 400, "image/png")]))
            assert status == 413 and "The file is too large" in text
            # a bot that fills the hidden field is thanked and forgotten
            status, location, _ = await _post(daemon, _form(website="http://spam.example"))
            assert status == 303 and location == "/portal/thanks"
            assert await _portal_records() == 0
            assert await daemon.incidents() == []


async def test_a_flood_from_one_address_is_limited_without_affecting_others(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    async with capturing_smtp() as (_, port):
        loaded = portal_config(
            write_config,
            database_url,
            port,
            catalogue=tmp_path / "catalogue.yaml",
            http={"trusted_proxies": ["127.0.0.1/32"]},
            form={"max_attachments": 0},
            rate_limit={"per_address_per_minute": 30, "per_sender_per_minute": 30, "burst": 10},
        )
        async with running_daemon(loaded) as daemon:
            statuses: list[int] = []
            started = time.monotonic()
            for number in range(1000):
                data = {**_fields(), "subject": f"flood {number}", "email": f"f{number}@x.example"}
                async with daemon.http.post(
                    "/portal/",
                    data=data,
                    headers={"X-Forwarded-For": "198.51.100.7"},
                    allow_redirects=False,
                ) as answer:
                    statuses.append(answer.status)
            # the burst of 10, and the half a post a second refilled while the flood lasted
            elapsed = time.monotonic() - started
            assert elapsed < 60, elapsed
            accepted = statuses.count(303)
            assert 10 <= accepted <= 10 + int(elapsed * 30 / 60) + 1, (accepted, elapsed)
            assert statuses.count(429) == 1000 - accepted
            other = {**_fields(), "subject": "not a flood", "email": "g@x.example"}
            async with daemon.http.post(
                "/portal/",
                data=other,
                headers={"X-Forwarded-For": "203.0.113.9"},
                allow_redirects=False,
            ) as answer:
                assert answer.status == 303
            assert await _portal_records() == accepted + 1


def _fields() -> dict[str, Any]:
    return {"type": "incident", "service": "mail", "text": "x", "website": ""}
