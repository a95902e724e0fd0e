"""A ServiceNow Table API server for tests: the incident table."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from tests.integration.fakes.server import FakeServer, error


class FakeServiceNow(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, dict[str, Any]] = {}
        self.work_notes: dict[str, list[str]] = {}
        table = "/api/now/table/incident"
        self.app.router.add_post(table, self.create)
        self.app.router.add_get(table, self.query)
        self.app.router.add_patch(f"{table}/{{sys_id}}", self.update)

    async def create(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization", "").split(" ")[0] != "Basic":
            return error(401, error={"message": "User Not Authenticated"}, status="failure")
        body = await request.json()
        if not body.get("short_description"):
            return error(400, error={"message": "short_description is mandatory"}, status="failure")
        sys_id = uuid.uuid4().hex
        number = f"INC{len(self.records) + 1:07d}"
        self.records[sys_id] = {**body, "sys_id": sys_id, "number": number, "state": "1"}
        self.work_notes[sys_id] = []
        return web.json_response({"result": self.records[sys_id]}, status=201)

    async def query(self, request: web.Request) -> web.Response:
        name, _, value = request.query.get("sysparm_query", "").partition("=")
        found = [r for r in self.records.values() if r.get(name) == value]
        limit = int(request.query.get("sysparm_limit", "100"))
        return web.json_response({"result": found[:limit]})

    async def update(self, request: web.Request) -> web.Response:
        record = self.records.get(request.match_info["sys_id"])
        if record is None:
            return error(404, error={"message": "No Record found"}, status="failure")
        body = await request.json()
        if "work_notes" in body:
            self.work_notes[record["sys_id"]].append(body.pop("work_notes"))
        record.update(body)
        return web.json_response({"result": record})
