"""FastAPI: ``include_router(timeback_router(...))`` serves the protocol and documents it."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tracker.server.fastapi import timeback_router

from .conftest import USER, ServerFactory
from .helpers import heartbeat_body, submit_body

PREFIX = "/api/timeback"


def _app(make_server: ServerFactory) -> tuple[FastAPI, object]:
    server = make_server()
    app = FastAPI()
    app.include_router(timeback_router(server), prefix=PREFIX)
    return app, server


async def test_routes_appear_in_openapi_with_their_bodies(make_server: ServerFactory) -> None:
    app, _ = _app(make_server)
    spec = app.openapi()
    paths = spec["paths"]
    assert set(paths) == {
        f"{PREFIX}/activity/heartbeat",
        f"{PREFIX}/activity/submit",
        f"{PREFIX}/user/verify",
        f"{PREFIX}/user/me",
    }
    heartbeat = paths[f"{PREFIX}/activity/heartbeat"]["post"]
    schema = heartbeat["requestBody"]["content"]["application/json"]["schema"]
    assert {"runId", "startedAt", "endedAt", "elapsedMs"} <= set(schema["properties"])
    assert "204" in heartbeat["responses"]
    assert "get" in paths[f"{PREFIX}/user/me"]


async def test_requests_through_the_router_are_the_mounted_apps(
    make_server: ServerFactory,
) -> None:
    app, server = _app(make_server)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app.test", headers={"x-user": USER}
    ) as http:
        assert (
            await http.post(f"{PREFIX}/activity/heartbeat", json=heartbeat_body())
        ).status_code == 204
        # The protocol's answers, not FastAPI's: a resend is a 200 duplicate, bad input a 400
        # with the field named (FastAPI's own validation would say 422).
        again = await http.post(f"{PREFIX}/activity/heartbeat", json=heartbeat_body())
        assert again.status_code == 200
        bad = await http.post(f"{PREFIX}/activity/heartbeat", json=heartbeat_body(elapsedMs=-1))
        assert bad.status_code == 400
        assert bad.json()["error"]["details"]["field"] == "elapsedMs"
        assert (await http.post(f"{PREFIX}/activity/submit", json=submit_body())).status_code == 204
        wrong = await http.get(f"{PREFIX}/activity/heartbeat")
        assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST")
        me = await http.get(f"{PREFIX}/user/me")
        assert me.status_code == 200
        assert me.json()["email"] == USER.lower()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app.test"
    ) as anonymous:
        assert (await anonymous.get(f"{PREFIX}/user/me")).status_code == 401
    await server.aclose()  # type: ignore[attr-defined]
