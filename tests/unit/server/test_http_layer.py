"""The HTTP layer the Starlette way (issue 10): guards as middleware, one error map, routes that
get their parts, no import cycle, timestamps and emails parsed once at the edge."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import tracker.server
from tracker.server import TimebackServer
from tracker.server.errors import ERROR_HANDLERS, ErrorBoundary, json_response
from tracker.server.guards import JsonBodies, OriginGuard, json_body
from tracker.server.inbound import CompletionIn, WindowIn

from .conftest import USER, ServerFactory, client_for
from .helpers import heartbeat_body, submit_body

PACKAGE = Path(tracker.server.__file__).parent


def _server_imports(module: Path) -> set[str]:
    """tracker.server modules that ``module`` imports, TYPE_CHECKING imports included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tracker.server."):
            found.add((node.module or "").split(".")[2])
    return found


def test_no_import_cycle_in_tracker_server() -> None:
    graph = {path.stem: _server_imports(path) for path in PACKAGE.glob("*.py")}
    graph.pop("__init__")
    for deps in graph.values():
        deps.discard("__init__")
    seen: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        if seen.get(name) == "done":
            return
        if seen.get(name) == "open":
            cycle = [*trail[trail.index(name) :], name]
            pytest.fail(f"import cycle: {' -> '.join(cycle)}")
        seen[name] = "open"
        for dep in sorted(graph.get(name, ())):
            visit(dep, [*trail, name])
        seen[name] = "done"

    for name in sorted(graph):
        visit(name, [])
    assert "server" not in graph["app"]


def _guarded(handler: object) -> Starlette:
    async def route(request: Request) -> Response:
        assert callable(handler)
        return await handler(request)  # type: ignore[no-any-return]

    return Starlette(
        routes=[Route("/items/{name}", route, methods=["POST", "GET"])],
        middleware=[
            Middleware(ErrorBoundary),
            Middleware(OriginGuard, allowed_origins=()),
            Middleware(JsonBodies, limit=1024, routes=[("POST", "/items/{name}")]),
        ],
        exception_handlers=dict(ERROR_HANDLERS),
    )


async def test_guards_run_before_the_route_and_share_one_error_shape() -> None:
    calls: list[object] = []

    async def echo(request: Request) -> Response:
        calls.append(json_body(request) if request.method == "POST" else None)
        # The body was consumed by the middleware; the route can still read it.
        assert request.method == "GET" or await request.body() == b'{"a":1}'
        return json_response(200, {"ok": True})

    app = _guarded(echo)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://h.test"
    ) as http:
        assert (await http.post("/items/x", content=b'{"a":1}')).status_code == 200
        assert calls == [{"a": 1}]
        foreign = await http.post(
            "/items/x", content=b"x" * 5000, headers={"origin": "https://evil.example"}
        )
        too_big = await http.post("/items/x", content=b"x" * 5000)
        not_json = await http.post("/items/x", content=b"{")
        no_route = await http.get("/nope")
        wrong_method = await http.put("/items/x")
    codes = [
        (r.status_code, r.json()["error"]["code"])
        for r in (foreign, too_big, not_json, no_route, wrong_method)
    ]
    assert codes == [
        (403, "FORBIDDEN_ORIGIN"),
        (413, "PAYLOAD_TOO_LARGE"),
        (400, "INVALID_PAYLOAD"),
        (404, "NOT_FOUND"),
        (405, "METHOD_NOT_ALLOWED"),
    ]
    assert calls == [{"a": 1}]  # no refused request reached the route


async def test_an_unexpected_failure_is_a_500_error_body_without_traceback() -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("secret internals")

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_guarded(broken)), base_url="http://h.test"
    ) as http:
        response = await http.get("/items/x")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert "secret internals" not in response.text and "Traceback" not in response.text


def test_window_in_parses_timestamps_once() -> None:
    window = WindowIn.parse("student@example.com", heartbeat_body())
    assert (window.started_at_ms, window.ended_at_ms) == (1769508000000, 1769508015000)
    completion = CompletionIn.parse("student@example.com", submit_body())
    assert completion.ended_at_ms == 1769508180000


async def test_the_pipeline_gets_the_parsed_request_and_a_normalised_email(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server: TimebackServer = make_server()
    seen: list[object] = []
    original = server.pipeline.heartbeat

    async def spy(window: WindowIn) -> bool:
        seen.append(window)
        return await original(window)

    monkeypatch.setattr(server.pipeline, "heartbeat", spy)
    async with client_for(server, user="  " + USER + " ") as http:
        assert (await http.post("/activity/heartbeat", json=heartbeat_body())).status_code == 204
    (window,) = seen
    assert isinstance(window, WindowIn)
    assert window.user == USER.lower()
    assert window.started_at_ms == 1769508000000
    await server.aclose()
