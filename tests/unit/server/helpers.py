"""Test helpers: bodies, a uvicorn server in a thread, a local Caliper receiver."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import socket
import threading
import time
import uuid
from collections import deque
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from tracker.server.caliper import CALIPER_CONTEXT

RUN_ID = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
CONFIG: dict[str, Any] = {
    "name": "Test App",
    "sensor": "https://app.example.com/sensors/default",
    "launchUrl": "https://app.example.com/start",
    "courses": [
        {
            "subject": "Math",
            "grade": 3,
            "courseCode": "MATH-3",
            "sensor": "https://app.example.com/sensors/math",
            "ids": {"staging": "math3-staging", "production": "math3-prod"},
            "metadata": {
                "metrics": {"totalLessons": 8},
                "goals": {"dailyXp": 20, "dailyActiveMinutes": 25},
            },
            "overrides": {
                "staging": {
                    "sensor": "https://staging.example.com/sensors/math",
                    "metadata": {"metrics": {"totalLessons": 4}},
                }
            },
        },
        {"subject": "Reading", "grade": 2},
        {"subject": "Social Studies", "courseCode": "SS 101"},
    ],
}


def heartbeat_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "fractions-with-like-denominators",
        "name": "Fractions with Like Denominators",
        "course": {"subject": "Math", "grade": 3},
        "runId": RUN_ID,
        "startedAt": "2026-01-27T10:00:00.000Z",
        "endedAt": "2026-01-27T10:00:15.000Z",
        "elapsedMs": 14200,
        "pausedMs": 800,
    }
    body.update(changes)
    return body


def window(
    index: int, *, run_id: str = RUN_ID, active: int = 15000, **changes: Any
) -> dict[str, Any]:
    """The index-th 15 s window of a run (windows tile time)."""
    start = 1769508000000 + index * 15000
    from tracker.timefmt import iso_from_epoch_ms

    return heartbeat_body(
        runId=run_id,
        startedAt=iso_from_epoch_ms(start),
        endedAt=iso_from_epoch_ms(start + 15000),
        elapsedMs=active,
        pausedMs=15000 - active,
        **changes,
    )


def submit_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "fractions-with-like-denominators",
        "name": "Fractions with Like Denominators",
        "course": {"code": "MATH-3"},
        "runId": RUN_ID,
        "endedAt": "2026-01-27T10:03:00.000Z",
        "metrics": {"xpEarned": 8, "totalQuestions": 10, "correctQuestions": 8},
    }
    body.update(changes)
    return body


def new_run() -> str:
    return str(uuid.uuid4())


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class UvicornThread:
    """Runs an ASGI app with uvicorn on 127.0.0.1 (a free port) in a thread."""

    def __init__(self, app: ASGIApp) -> None:
        self._sock = free_socket()
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> UvicornThread:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


class CaliperReceiver:
    """A Caliper endpoint and token endpoint that check what the outbox sends.

    ``fail_next(status, n)`` answers the next n event posts with ``status``; ``down`` answers
    every event post with 503; ``revoke()`` invalidates issued tokens (next post gets 401).
    """

    def __init__(self, client_id: str = "client", client_secret: str = "s3cret") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.url = ""
        self.expires_in = 3600
        self.lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self.envelopes: list[dict[str, Any]] = []
        self.token_requests = 0
        self.event_posts = 0
        self.refused: list[int] = []
        self.problems: list[str] = []
        self.down = False
        # A slow endpoint: seconds before each event post is answered.
        self.delay_s = 0.0
        self._script: deque[tuple[int, dict[str, str]]] = deque()
        self._tokens: set[str] = set()
        self.post_times: list[float] = []

    def fail_next(self, status: int, count: int = 1, headers: dict[str, str] | None = None) -> None:
        with self.lock:
            self._script.extend([(status, headers or {})] * count)

    def revoke(self) -> None:
        with self.lock:
            self._tokens.clear()

    def event_ids(self) -> list[str]:
        with self.lock:
            return [event["id"] for event in self.events]

    async def token(self, request: Request) -> Response:
        with self.lock:
            self.token_requests += 1
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if request.headers.get("content-type", "").split(";")[0] != (
            "application/x-www-form-urlencoded"
        ):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        form = (await request.body()).decode()
        if form != "grant_type=client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        token = secrets.token_urlsafe(16)
        with self.lock:
            self._tokens.add(token)
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        )

    def _problem(self, message: str, status: int) -> Response:
        with self.lock:
            self.problems.append(message)
        return JSONResponse({"error": message}, status_code=status)

    async def event(self, request: Request) -> Response:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        with self.lock:
            self.event_posts += 1
            self.post_times.append(time.monotonic())
            scripted = self._script.popleft() if self._script else None
            down = self.down
        if down or scripted:
            status, headers = scripted or (503, {})
            with self.lock:
                self.refused.append(status)
            return Response(status_code=status, headers=headers)
        if request.headers.get("content-type") != "application/json":
            return self._problem("content type", 415)
        auth = request.headers.get("authorization", "")
        with self.lock:
            valid = auth.startswith("Bearer ") and auth.removeprefix("Bearer ") in self._tokens
        if not valid:
            with self.lock:
                self.refused.append(401)
            return Response(status_code=401)
        try:
            envelope = json.loads(await request.body())
        except ValueError:
            return self._problem("malformed envelope", 400)
        if set(envelope) != {"sensor", "sendTime", "dataVersion", "data"}:
            return self._problem(f"envelope keys {sorted(envelope)}", 400)
        if envelope["dataVersion"] != CALIPER_CONTEXT:
            return self._problem("dataVersion", 422)
        data = envelope["data"]
        if not isinstance(data, list) or not data:
            return self._problem("empty data", 400)
        for event in data:
            if event.get("@context") != CALIPER_CONTEXT or not event.get("id"):
                return self._problem("event without context or id", 400)
            if not event["object"]["id"].startswith(envelope["sensor"] + "/"):
                return self._problem("event of another sensor", 400)
        with self.lock:
            self.envelopes.append(envelope)
            self.events.extend(data)
        return Response(status_code=200)

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/oauth/token", self.token, methods=["POST"]),
                Route("/caliper/event", self.event, methods=["POST"]),
            ]
        )
