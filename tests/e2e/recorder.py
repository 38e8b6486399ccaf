"""The API side of the e2e server: a recorder in front of a pluggable app.

``Recorder`` is ASGI middleware. It logs every request that reaches the API (method, path,
headers, body, times, the status answered), and can be told to fail requests: the next N
of a route with a status, or all of them ("down"), or by dropping the connection with no
answer at all (what a browser sees when a server dies). Whatever is not failed goes to the
inner app: ``StubApi`` below by default, or the real server
(``Recorder(create_app(settings, get_email=...), mounted=True)``). A ``mounted`` app is
called the way Starlette's ``Mount`` calls a sub-app (``root_path`` extended by the base,
``path`` unchanged), so it serves ``/activity/heartbeat``; otherwise it gets the request
unchanged and must serve the routes under the base itself, as the stub does.

The server runs in its own thread and event loop; tests read the log from the main
thread, hence the lock and the condition.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_BASE = "/api/timeback"
# Fault.status values that are no HTTP status: drop the connection without answering;
# hand the request to the app (after the fault's delay).
CLOSE = 0
FORWARD = -1


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # full path, e.g. /api/timeback/activity/heartbeat
    route: str  # below the API base, e.g. /activity/heartbeat
    query: str
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    received_at: float  # time.monotonic() when the request line arrived
    answered_at: float  # time.monotonic() when the answer was sent (or the line dropped)
    wall_time: float  # time.time() at arrival
    status: int | None  # None: the connection was dropped

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Fault:
    status: int = 503  # or CLOSE, FORWARD
    remaining: int | None = 1  # None: until cleared
    delay_s: float = 0.0  # wait this long before answering (or failing)


@dataclass
class _State:
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=dict)  # route ("*" for all)


class Recorder:
    def __init__(
        self, app: ASGIApp | None = None, *, base: str = API_BASE, mounted: bool = False
    ) -> None:
        self.base = base.rstrip("/")
        self.app: ASGIApp = app if app is not None else StubApi(base=self.base)
        self.mounted = mounted
        self._state = _State()
        self._changed = threading.Condition()

    # ---- what tests call (any thread) ----
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._changed:
            return list(self._state.requests)

    def of(self, route: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.route == route]

    def clear(self) -> None:
        """Forgets the log and every fault; resets the stub's dedupe memory."""
        with self._changed:
            self._state = _State()
        if isinstance(self.app, StubApi):
            self.app.reset()

    def fail_next(
        self, route: str, count: int = 1, *, status: int = 503, delay_s: float = 0.0
    ) -> None:
        """The next ``count`` requests of ``route`` ("*" for any) get ``status`` (or CLOSE).

        With CLOSE, mind that Chromium resends a request once when a reused keep-alive
        connection closes without an answer: ``count=1`` may be healed by that resend
        before the page sees an error. Use ``count=2`` or ``go_down()`` for a sure failure.
        """
        self._add_fault(route, Fault(status=status, remaining=count, delay_s=delay_s))

    def delay_next(self, route: str, delay_s: float, count: int = 1) -> None:
        """The next ``count`` requests of ``route`` are answered by the app after a delay."""
        self._add_fault(route, Fault(status=FORWARD, remaining=count, delay_s=delay_s))

    def go_down(self, *, status: int = 503) -> None:
        """Every request fails with ``status`` (or CLOSE) until ``come_back()``."""
        self._add_fault("*", Fault(status=status, remaining=None))

    def come_back(self) -> None:
        with self._changed:
            self._state.faults.clear()

    def wait_for(
        self,
        predicate: Callable[[RecordedRequest], bool] | str,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[RecordedRequest]:
        """Blocks until ``count`` logged requests match (a route string or a predicate)."""
        match = (lambda r: r.route == predicate) if isinstance(predicate, str) else predicate
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [request for request in self._state.requests if match(request)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    routes = [f"{r.method} {r.route} {r.status}" for r in self._state.requests]
                    raise TimeoutError(
                        f"{len(found)}/{count} matching requests after {timeout} s; log: {routes}"
                    )
                self._changed.wait(left)

    # ---- ASGI ----
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # lifespan goes to the real app
            return
        received_at, wall_time = time.monotonic(), time.time()
        body = await _read_body(receive)
        path: str = scope["path"]
        route = path[len(self.base) :] if path.startswith(self.base) else path
        fault = self._take_fault(route)
        status: int | None = None
        logged = False

        def log() -> None:
            # Called just before the answer's last byte goes out (or the line is dropped):
            # whoever sees the answer in the browser finds it in the log already.
            nonlocal logged
            if logged:
                return
            logged = True
            self._log(
                RecordedRequest(
                    method=scope["method"],
                    path=path,
                    route=route,
                    query=scope.get("query_string", b"").decode("latin-1"),
                    headers=_headers(scope),
                    body=body,
                    received_at=received_at,
                    answered_at=time.monotonic(),
                    wall_time=wall_time,
                    status=status,
                )
            )

        async def logging_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                log()
            await send(message)

        if fault is not None and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault is not None and fault.status == CLOSE:
            log()
            await _drop_connection(send)
        elif fault is not None and fault.status != FORWARD:
            await _send_error(logging_send, fault.status)
        else:
            await self._forward(scope, body, logging_send)
        log()  # an app that ended without a whole answer

    async def _forward(self, scope: Scope, body: bytes, send: Send) -> None:
        """Runs the inner app on the buffered body."""
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        if self.mounted:
            scope = {**scope, "root_path": scope.get("root_path", "") + self.base}
        await self.app(scope, replay, send)

    def _add_fault(self, route: str, fault: Fault) -> None:
        with self._changed:
            self._state.faults.setdefault(route, []).append(fault)

    def _take_fault(self, route: str) -> Fault | None:
        with self._changed:
            for key in (route, "*"):
                queue = self._state.faults.get(key, [])
                if queue:
                    fault = queue[0]
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            queue.pop(0)
                    return fault
        return None

    def _log(self, request: RecordedRequest) -> None:
        with self._changed:
            self._state.requests.append(request)
            self._changed.notify_all()


class StubApi:
    """The wire protocol's browser routes (wire §1), just enough for the browser side.

    heartbeat: 204, or 200 {"duplicate": true} for a window already received (same runId
    and startedAt); submit: 204; malformed JSON: 400 INVALID_PAYLOAD; anything else 404.
    """

    def __init__(self, base: str = API_BASE) -> None:
        self.base = base.rstrip("/")
        self._windows: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        body = await _read_body(receive)
        route = scope["path"][len(self.base) :]
        if scope["method"] != "POST" or route not in ("/activity/heartbeat", "/activity/submit"):
            await _send_json(send, 404, _error("NOT_FOUND", f"no route {scope['path']}"))
            return
        try:
            payload = json.loads(body)
        except ValueError:
            await _send_json(send, 400, _error("INVALID_PAYLOAD", "malformed JSON"))
            return
        if route == "/activity/heartbeat" and isinstance(payload, dict):
            key = (str(payload.get("runId")), str(payload.get("startedAt")))
            with self._lock:
                duplicate = key in self._windows
                self._windows.add(key)
            if duplicate:
                await _send_json(send, 200, {"duplicate": True})
                return
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


# ---- small ASGI helpers ----
async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": {}}}


async def _send_json(send: Send, status: int, document: dict[str, Any]) -> None:
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, status: int) -> None:
    await _send_json(send, status, _error("INTERNAL_ERROR", f"recorder: injected {status}"))


async def _drop_connection(send: Send) -> None:
    """Closes the TCP connection without an answer: fetch() rejects, like a dead server.

    ASGI has no message for this. uvicorn hands the app its cycle's bound ``send``, whose
    owner holds the transport (the site passes it through unwrapped). Failing that, the
    app raises, and uvicorn answers 500 and closes.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("recorder: drop the connection")
    transport.abort()
    # Let uvicorn see the connection as lost before the app returns, or it tries a 500.
    await asyncio.sleep(0.01)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
