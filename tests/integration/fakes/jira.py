"""A Jira REST v2/v3 server for tests: issues, search by label or custom field,
comments, priorities and transitions, with Jira's error shapes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.integration.fakes.server import FakeServer, error

PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
_WORKFLOW = {
    "To Do": [("21", "In Progress", "In Progress"), ("31", "Done", "Done")],
    "In Progress": [("31", "Done", "Done")],
    "Done": [("41", "Reopen", "To Do")],
}
_CATEGORY = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}


@dataclass
class Issue:
    key: str
    fields: dict[str, Any]
    status: str = "To Do"
    comments: list[Any] = field(default_factory=list)
    history: list[str] = field(default_factory=list)  # status changes


class FakeJira(FakeServer):
    def __init__(self, token: str = "jira-token") -> None:
        super().__init__()
        self.token = token
        self.issues: dict[str, Issue] = {}
        for version in ("2", "3"):
            base = f"/rest/api/{version}"
            self.app.router.add_post(f"{base}/issue", self.create)
            self.app.router.add_get(f"{base}/search", self.search)
            self.app.router.add_get(f"{base}/issue/{{key}}", self.get_issue)
            self.app.router.add_put(f"{base}/issue/{{key}}", self.edit)
            self.app.router.add_post(f"{base}/issue/{{key}}/comment", self.comment)
            self.app.router.add_get(f"{base}/issue/{{key}}/transitions", self.transitions)
            self.app.router.add_post(f"{base}/issue/{{key}}/transitions", self.transition)

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header == f"Bearer {self.token}" or header.startswith("Basic ")

    def _issue(self, request: web.Request) -> Issue:
        issue = self.issues.get(request.match_info["key"])
        if issue is None:
            message = "Issue does not exist or you do not have permission to see it."
            raise web.HTTPNotFound(
                text=f'{{"errorMessages":["{message}"],"errors":{{}}}}',
                content_type="application/json",
            )
        return issue

    async def create(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return error(401, errorMessages=["You are not authenticated."], errors={})
        fields = (await request.json()).get("fields", {})
        problems = {}
        if not fields.get("summary"):
            problems["summary"] = "You must specify a summary of the issue."
        if fields.get("project", {}).get("key") != "OPS":
            problems["project"] = "valid project is required"
        priority = fields.get("priority", {}).get("name")
        if priority not in PRIORITIES:
            problems["priority"] = f"Specify a valid priority: '{priority}' is not one"
        if problems:
            return error(400, errorMessages=[], errors=problems)
        key = f"OPS-{len(self.issues) + 1}"
        self.issues[key] = Issue(key, fields)
        return web.json_response(
            {"id": str(10000 + len(self.issues)), "key": key, "self": f"{self.url}/issue/{key}"},
            status=201,
        )

    async def search(self, request: web.Request) -> web.Response:
        jql = request.query.get("jql", "")
        label = re.fullmatch(r'labels = "([^"]+)"', jql)
        custom = re.fullmatch(r'cf\[(\d+)\] ~ "([^"]+)"', jql)
        if label:
            found = [i for i in self.issues.values() if label[1] in i.fields.get("labels", [])]
        elif custom:
            name = f"customfield_{custom[1]}"
            found = [i for i in self.issues.values() if i.fields.get(name) == custom[2]]
        else:
            return error(400, errorMessages=[f"Error in the JQL Query: {jql}"], errors={})
        limit = int(request.query.get("maxResults", "50"))
        return web.json_response(
            {"total": len(found), "issues": [{"key": i.key} for i in found[:limit]]}
        )

    async def get_issue(self, request: web.Request) -> web.Response:
        issue = self._issue(request)
        status = {"name": issue.status, "statusCategory": {"key": _CATEGORY[issue.status]}}
        return web.json_response({"key": issue.key, "fields": {**issue.fields, "status": status}})

    async def edit(self, request: web.Request) -> web.Response:
        issue = self._issue(request)
        fields = (await request.json()).get("fields", {})
        if "priority" in fields and fields["priority"].get("name") not in PRIORITIES:
            return error(400, errorMessages=[], errors={"priority": "invalid"})
        issue.fields.update(fields)
        return web.Response(status=204)

    async def comment(self, request: web.Request) -> web.Response:
        issue = self._issue(request)
        body = (await request.json()).get("body")
        if not body:
            return error(
                400, errorMessages=[], errors={"comment": "Comment body can not be empty!"}
            )
        issue.comments.append(body)
        return web.json_response({"id": str(len(issue.comments)), "body": body}, status=201)

    async def transitions(self, request: web.Request) -> web.Response:
        issue = self._issue(request)
        return web.json_response(
            {
                "transitions": [
                    {"id": tid, "name": name, "to": {"name": to}}
                    for tid, name, to in _WORKFLOW[issue.status]
                ]
            }
        )

    async def transition(self, request: web.Request) -> web.Response:
        issue = self._issue(request)
        wanted = (await request.json()).get("transition", {}).get("id")
        for tid, _, to in _WORKFLOW[issue.status]:
            if tid == wanted:
                issue.status = to
                issue.history.append(to)
                return web.Response(status=204)
        return error(400, errorMessages=["Transition id is not valid for this issue."], errors={})
