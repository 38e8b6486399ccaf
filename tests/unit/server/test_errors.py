"""Every error of wire §1: status, code, and details naming the field; nothing stored."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tracker.server import TimebackServer

from .conftest import ServerFactory, client_for
from .helpers import heartbeat_body, submit_body

HEARTBEAT = "/activity/heartbeat"
SUBMIT = "/activity/submit"
MISSING = object()


def change(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``body`` with ``a.b`` set to ``value`` (or removed for MISSING)."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    *parents, last = path.split(".")
    target = copy
    for key in parents:
        target = target[key]
    if value is MISSING:
        del target[last]
    else:
        target[last] = value
    return copy


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    details: dict[str, Any] = body["error"]["details"]
    return details


HEARTBEAT_CASES = [
    ("id", MISSING, "id"),
    ("id", "", "id"),
    ("id", "   ", "id"),
    ("id", 7, "id"),
    ("name", "", "name"),
    ("name", None, "name"),
    ("course", 5, "course"),
    ("course", {"subject": "Math"}, "course.grade"),
    ("course", {"subject": "Math", "grade": 3.5}, "course.grade"),
    ("course", {"subject": "Math", "grade": 14}, "course.grade"),
    ("course", {"subject": "Math", "grade": True}, "course.grade"),
    ("course", {"subject": "Maths", "grade": 3}, "course.subject"),
    ("course", {"code": ""}, "course.code"),
    ("runId", MISSING, "runId"),
    ("runId", "not-a-uuid", "runId"),
    ("runId", 12, "runId"),
    ("startedAt", "yesterday", "startedAt"),
    ("startedAt", "2026-01-27T10:00:00", "startedAt"),
    ("endedAt", MISSING, "endedAt"),
    ("elapsedMs", 1.5, "elapsedMs"),
    ("elapsedMs", 100.0, "elapsedMs"),
    ("elapsedMs", -1, "elapsedMs"),
    ("elapsedMs", "100", "elapsedMs"),
    ("elapsedMs", True, "elapsedMs"),
    ("pausedMs", 2**53, "pausedMs"),
    ("pausedMs", None, "pausedMs"),
    ("pausedMs", MISSING, "pausedMs"),
]

SUBMIT_CASES = [
    ("metrics", MISSING, "metrics"),
    ("metrics", [], "metrics"),
    ("metrics.xpEarned", MISSING, "metrics.xpEarned"),
    ("metrics.xpEarned", "8", "metrics.xpEarned"),
    ("metrics.xpEarned", True, "metrics.xpEarned"),
    ("metrics.xpEarned", 1e300, "metrics.xpEarned"),
    ("metrics.totalQuestions", MISSING, "metrics.totalQuestions"),
    ("metrics.correctQuestions", MISSING, "metrics.correctQuestions"),
    ("metrics.correctQuestions", 11, "metrics.correctQuestions"),
    ("metrics.totalQuestions", 10.0, "metrics.totalQuestions"),
    ("metrics.masteredUnits", -1, "metrics.masteredUnits"),
    ("pctComplete", "50", "pctComplete"),
    ("pctComplete", True, "pctComplete"),
    ("process", "yes", "process"),
    ("time", {"activeMs": -5}, "time.activeMs"),
    ("endedAt", "2026-01-27 10:03", "endedAt"),
    ("runId", MISSING, "runId"),
    ("course", {"grade": 3}, "course.subject"),
]


@pytest.mark.parametrize(("path", "value", "field"), HEARTBEAT_CASES)
async def test_invalid_heartbeat_field(
    server: TimebackServer, client: httpx.AsyncClient, path: str, value: Any, field: str
) -> None:
    response = await client.post(HEARTBEAT, json=change(heartbeat_body(), path, value))
    details = assert_error(response, 400, "INVALID_PAYLOAD")
    assert details["field"] == field
    assert set(details) == {"field", "message"}
    assert server.store.row_counts()["events"] == 0


@pytest.mark.parametrize(("path", "value", "field"), SUBMIT_CASES)
async def test_invalid_submit_field(
    server: TimebackServer, client: httpx.AsyncClient, path: str, value: Any, field: str
) -> None:
    response = await client.post(SUBMIT, json=change(submit_body(), path, value))
    details = assert_error(response, 400, "INVALID_PAYLOAD")
    assert details["field"] == field
    assert all(count == 0 for count in server.store.row_counts().values())


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"{'id': 1}",
        b"[]",
        b"null",
        b'"text"',
        b'{"id": NaN}',
        b'{"elapsedMs": Infinity}',
        b"\xff\xfe{}",
        b"[" * 100_00 + b"]" * 100_00,
        b'{"id": "\\ud800"}',
        b"1" * 5000,
    ],
)
@pytest.mark.parametrize("route", [HEARTBEAT, SUBMIT])
async def test_malformed_body_is_invalid_payload(
    server: TimebackServer, client: httpx.AsyncClient, raw: bytes, route: str
) -> None:
    response = await client.post(route, content=raw, headers={"content-type": "application/json"})
    details = assert_error(response, 400, "INVALID_PAYLOAD")
    assert details["field"] in ("body", "id")
    assert server.store.row_counts()["events"] == 0


async def test_unknown_course(server: TimebackServer, client: httpx.AsyncClient) -> None:
    for route, body in (
        (HEARTBEAT, heartbeat_body(course={"subject": "Science", "grade": 5})),
        (SUBMIT, submit_body(course={"code": "NOPE-1"})),
    ):
        details = assert_error(await client.post(route, json=body), 400, "UNKNOWN_COURSE")
        assert details["field"] == "course"
    assert server.store.row_counts()["events"] == 0


async def test_no_user_is_401_on_every_route(server: TimebackServer) -> None:
    async with client_for(server, user=None) as anonymous:
        for method, route, body in (
            ("POST", HEARTBEAT, heartbeat_body()),
            ("POST", SUBMIT, submit_body()),
            ("GET", "/user/verify", None),
            ("GET", "/user/me", None),
        ):
            response = await anonymous.request(method, route, json=body)
            assert_error(response, 401, "UNAUTHORIZED")
    assert server.store.row_counts()["events"] == 0


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "http://app.test:8080", "null", "http://sub.app.test", "garbage"],
)
async def test_foreign_origin_is_403(
    server: TimebackServer, client: httpx.AsyncClient, origin: str
) -> None:
    for route, body in ((HEARTBEAT, heartbeat_body()), (SUBMIT, submit_body())):
        response = await client.post(route, json=body, headers={"origin": origin})
        assert_error(response, 403, "FORBIDDEN_ORIGIN")
    response = await client.get("/user/me", headers={"origin": origin})
    assert_error(response, 403, "FORBIDDEN_ORIGIN")
    assert server.store.row_counts()["events"] == 0


@pytest.mark.parametrize("origin", ["http://app.test", "https://app.test", "HTTP://APP.TEST/"])
async def test_own_origin_is_allowed(client: httpx.AsyncClient, origin: str) -> None:
    response = await client.post(HEARTBEAT, json=heartbeat_body(), headers={"origin": origin})
    assert response.status_code in (200, 204)


async def test_allow_listed_origin(make_server: ServerFactory) -> None:
    server = make_server(allowed_origins=("https://lessons.example.com",))
    async with client_for(server) as client:
        ok = await client.post(
            HEARTBEAT, json=heartbeat_body(), headers={"origin": "https://lessons.example.com"}
        )
        assert ok.status_code == 204
        other = await client.post(
            HEARTBEAT, json=heartbeat_body(), headers={"origin": "https://other.example.com"}
        )
        assert other.status_code == 403


@pytest.mark.parametrize(
    "content_type",
    [
        # No Content-Type at all is read as JSON (an untyped sendBeacon Blob): test_lenient.
        "application/xml",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
    ],
)
async def test_wrong_content_type_is_415(
    server: TimebackServer, client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    for route, body in ((HEARTBEAT, heartbeat_body()), (SUBMIT, submit_body())):
        response = await client.post(route, content=json.dumps(body).encode(), headers=headers)
        assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert server.store.row_counts()["events"] == 0


async def test_body_over_64_kib_is_413(server: TimebackServer, client: httpx.AsyncClient) -> None:
    big = heartbeat_body(name="x" * 70_000)
    for route in (HEARTBEAT, SUBMIT):
        response = await client.post(route, json=big)
        details = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
        assert details == {"limit": 65536}
    assert server.store.row_counts()["events"] == 0


async def test_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/nope"), 404, "NOT_FOUND")
    assert_error(await client.get(HEARTBEAT), 405, "METHOD_NOT_ALLOWED")
    assert_error(await client.post("/user/me"), 405, "METHOD_NOT_ALLOWED")


async def test_broken_identity_hook_is_500_with_error_body(make_server: ServerFactory) -> None:
    def broken(request: object) -> str:
        raise RuntimeError("session store down")

    def not_an_email(request: object) -> str:
        return "admin"

    for hook in (broken, not_an_email):
        server = make_server(get_email=hook)
        async with client_for(server) as client:
            response = await client.post(HEARTBEAT, json=heartbeat_body())
            assert_error(response, 500, "INTERNAL_ERROR")
        assert server.store.row_counts()["events"] == 0


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"course": {"\\udc00x": 1}}', "course"),  # a key, nested
        (b'{"name": ["ok", "\\ud83d"]}', "name[1]"),
    ],
)
async def test_a_lone_surrogate_anywhere_is_named_and_a_valid_escape_passes_issue_12(
    server: TimebackServer, client: httpx.AsyncClient, raw: bytes, field: str
) -> None:
    response = await client.post(
        HEARTBEAT, content=raw, headers={"content-type": "application/json"}
    )
    assert assert_error(response, 400, "INVALID_PAYLOAD")["field"] == field
    body = heartbeat_body(name="Caf\\u00e9 \\ud83d\\ude00")  # escapes of real characters
    raw = json.dumps(body).replace("\\\\u", "\\u").encode()
    assert (
        await client.post(HEARTBEAT, content=raw, headers={"content-type": "application/json"})
    ).status_code == 204
