"""A lesson on another origin than the API (issue 11): CORS with credentials for the
allowed origins only, the delivery headers readable, the bundle loadable from anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tracker.server.static import BundleFiles

from .conftest import USER, ServerFactory
from .helpers import heartbeat_body

LESSONS = "http://lessons.test"
HEARTBEAT = "/activity/heartbeat"


def _client(app: object, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://app.test",
        headers=headers,
    )


async def test_an_allowed_origin_is_answered_with_credentials(make_server: ServerFactory) -> None:
    server = make_server(allowed_origins=(LESSONS,))
    async with _client(server.app, origin=LESSONS, **{"x-user": USER}) as http:
        preflight = await http.options(
            HEARTBEAT,
            headers={
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == LESSONS
        assert preflight.headers["access-control-allow-credentials"] == "true"
        answer = await http.post(HEARTBEAT, json=heartbeat_body())
        assert answer.status_code == 204
        assert answer.headers["access-control-allow-origin"] == LESSONS
        exposed = answer.headers["access-control-expose-headers"].lower()
        assert {"x-tracker-subject", "x-tracker-dedupe", "retry-after"} <= {
            name.strip() for name in exposed.split(",")
        }
        # A beacon to another origin is text/plain (no preflight possible): read as JSON.
        later = heartbeat_body(
            startedAt="2026-01-27T10:01:00.000Z", endedAt="2026-01-27T10:01:15.000Z"
        )
        beacon = await http.post(
            HEARTBEAT,
            content=json.dumps(later).encode(),
            headers={"content-type": "text/plain;charset=UTF-8"},
        )
        assert beacon.status_code == 204
    await server.aclose()


async def test_another_origin_gets_no_cors_and_is_refused(make_server: ServerFactory) -> None:
    server = make_server(allowed_origins=(LESSONS,))
    async with _client(server.app, origin="http://evil.test", **{"x-user": USER}) as http:
        preflight = await http.options(HEARTBEAT, headers={"access-control-request-method": "POST"})
        assert "access-control-allow-origin" not in preflight.headers
        answer = await http.post(HEARTBEAT, json=heartbeat_body())
        assert answer.status_code == 403
        assert "access-control-allow-origin" not in answer.headers
    assert server.store.events() == []
    await server.aclose()


async def test_without_allowed_origins_there_is_no_cors(make_server: ServerFactory) -> None:
    server = make_server()
    async with _client(server.app, origin=LESSONS) as http:
        preflight = await http.options(HEARTBEAT, headers={"access-control-request-method": "POST"})
        assert "access-control-allow-origin" not in preflight.headers
    await server.aclose()


async def test_bundle_files_may_be_loaded_by_any_origin(tmp_path: Path) -> None:
    (tmp_path / "timeback.js").write_text("/* embed */")
    async with _client(BundleFiles(directory=tmp_path), origin=LESSONS) as http:
        answer = await http.get("/timeback.js")
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
