"""A local stand-in for the Timeback platform: OAuth token, OneRoster, EduBridge, Caliper.

Both servers under test send their outbound calls here. State is kept per bearer token (one
token per client id), so the official server and ours never see each other's events or
results although they talk to the same URL (the URL is part of every actor and course id, so
it must be the same for both).

What it imitates, and why:
- ``POST /oauth2/token``: client-credentials grant; the token names the client.
- ``GET {rostering}/users?filter=email='…'``: the user lookup both servers resolve a
  signed-in email with (0, 1 or 2 matches: unknown, found, ambiguous).
- ``POST /caliper/event``: records every envelope. For a Completed event with
  ``process: true`` it writes the assessment result the platform would write (line item
  ``caliper_{sha256(objectId_courseId)}``, ``scoreDate`` = eventTime, ``metadata.attempt``),
  because the official server numbers attempts by reading those results back.
- ``GET {gradebook}/assessmentResults``: those results, filtered as the official asks.
- EduBridge enrollments and analytics: empty (no enrollment, no facts), enough for /user/me.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ROSTERING = "/ims/oneroster/rostering/v1p2"
GRADEBOOK = "/ims/oneroster/gradebook/v1p2"
TOKEN_PATH = "/oauth2/token"
CALIPER_PATH = "/caliper/event"

log = logging.getLogger("tests.compat.fake_platform")


@dataclass
class ClientState:
    """What one API client (one server under test) has sent to the platform."""

    envelopes: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    user_lookups: int = 0

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for envelope in self.envelopes for event in envelope["data"]]


@dataclass
class FakePlatform:
    """The platform's data: users by email, and one ClientState per client id."""

    users: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    clients: dict[str, ClientState] = field(default_factory=dict)
    unknown_requests: list[str] = field(default_factory=list)

    def add_user(self, email: str, sourced_id: str, **extra: Any) -> None:
        record = {
            "sourcedId": sourced_id,
            "status": "active",
            "enabledUser": True,
            "givenName": extra.pop("givenName", "Test"),
            "familyName": extra.pop("familyName", "Student"),
            "email": email,
            "roles": [],
            **extra,
        }
        self.users.setdefault(email.lower(), []).append(record)

    def client(self, client_id: str) -> ClientState:
        return self.clients.setdefault(client_id, ClientState())

    def reset(self) -> None:
        self.clients.clear()

    # -- routes ----------------------------------------------------------------------------

    def _client_of(self, request: Request) -> ClientState | None:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer tok-"):
            return None
        return self.client(auth.removeprefix("Bearer tok-"))

    async def token(self, request: Request) -> Response:
        # application/x-www-form-urlencoded, parsed here: Starlette's form parser needs an
        # extra package the suite does not otherwise need.
        form = parse_qs((await request.body()).decode())
        client_id = form.get("client_id", [""])[0]
        if not client_id:
            # HTTP Basic credentials (RFC 6749 §2.3.1) carry the id instead.
            basic = request.headers.get("authorization", "").removeprefix("Basic ")
            client_id = base64.b64decode(basic).decode().split(":", 1)[0] if basic else ""
        if not client_id:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        return JSONResponse(
            {"access_token": f"tok-{client_id}", "token_type": "Bearer", "expires_in": 3600}
        )

    async def users_list(self, request: Request) -> Response:
        state = self._client_of(request)
        if state is None:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        state.user_lookups += 1
        match = re.search(
            r"email\s*=\s*'?([^'&]+)'?", unquote(request.query_params.get("filter", ""))
        )
        found = self.users.get(match.group(1).strip().lower(), []) if match else []
        limit = int(request.query_params.get("limit", "100"))
        return JSONResponse(
            {
                "users": found[:limit],
                "totalCount": len(found),
                "pageCount": 1,
                "pageNumber": 1,
                "offset": 0,
                "limit": limit,
            }
        )

    async def assessment_results(self, request: Request) -> Response:
        state = self._client_of(request)
        if state is None:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        text = unquote(request.query_params.get("filter", ""))
        line_item = re.search(r"assessmentLineItem\.sourcedId\s*=\s*'?([^' ]+)'?", text)
        student = re.search(r"student\.sourcedId\s*=\s*'?([^' ]+)'?", text)
        rows = [
            r
            for r in state.results
            if (line_item is None or r["assessmentLineItem"]["sourcedId"] == line_item.group(1))
            and (student is None or r["student"]["sourcedId"] == student.group(1))
        ]
        return JSONResponse(
            {
                "assessmentResults": rows,
                "totalCount": len(rows),
                "pageCount": 1,
                "pageNumber": 1,
                "offset": 0,
                "limit": 100,
            }
        )

    async def caliper(self, request: Request) -> Response:
        state = self._client_of(request)
        if state is None:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        envelope = await request.json()
        state.envelopes.append(envelope)
        for event in envelope.get("data", []):
            self._process(state, event)
        return JSONResponse({"jobId": f"job-{len(state.envelopes)}"})

    def _process(self, state: ClientState, event: dict[str, Any]) -> None:
        """What the platform does with a processed completion: one assessment result."""
        if event.get("action") != "Completed" or not event["object"].get("process", True):
            return
        course_id = (event.get("extensions") or {}).get("courseId", "")
        digest = hashlib.sha256(f"{event['object']['id']}_{course_id}".encode()).hexdigest()
        state.results.append(
            {
                "sourcedId": f"result-{len(state.results) + 1}",
                "status": "active",
                "assessmentLineItem": {"sourcedId": f"caliper_{digest}"},
                "student": {"sourcedId": event["actor"]["id"].rsplit("/", 1)[-1]},
                "scoreDate": event["eventTime"],
                "scoreStatus": "fully graded",
                "metadata": {"attempt": event["generated"].get("attempt")},
            }
        )

    async def enrollments(self, request: Request) -> Response:
        return JSONResponse({"data": []})

    async def analytics(self, request: Request) -> Response:
        return JSONResponse({"facts": {}, "factsByApp": {}})

    async def fallback(self, request: Request) -> Response:
        line = f"{request.method} {request.url.path}?{request.url.query}"
        self.unknown_requests.append(line)
        log.warning("fake platform: no route for %s", line)
        return JSONResponse({"error": "not found"}, status_code=404)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(TOKEN_PATH, self.token, methods=["POST"]),
                Route(f"{ROSTERING}/users", self.users_list, methods=["GET"]),
                Route(f"{GRADEBOOK}/assessmentResults", self.assessment_results, methods=["GET"]),
                Route(CALIPER_PATH, self.caliper, methods=["POST"]),
                Route("/edubridge/enrollments/user/{user_id}", self.enrollments, methods=["GET"]),
                Route("/edubridge/analytics/activity", self.analytics, methods=["GET"]),
                Route("/{path:path}", self.fallback, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )
