"""timeback_routes(): the API, the bundle and the config in the app's own Starlette app, as
the README's recipe mounts them (with Starlette's SessionMiddleware for the identity)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker import __version__
from tracker.server import SettingsError
from tracker.server.mount import check_bundle_version, timeback_routes

from .conftest import ServerFactory
from .helpers import CONFIG, heartbeat_body


def _bundle(folder: Path, version: str = __version__) -> Path:
    folder.mkdir(parents=True)
    (folder / "bundle.json").write_text(json.dumps({"versions": {"tracker": version}}))
    (folder / "timeback.js").write_text("/* the embed */")
    return folder


async def sign_in(request: Request) -> Response:
    request.session["email"] = "ada@school.example"
    return Response(status_code=204)


async def test_a_lesson_page_finds_everything_it_loads(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = make_server(get_email=lambda request: request.session.get("email"))
    app = Starlette(
        routes=[*timeback_routes(server, bundle=_bundle(tmp_path / "b")), Route("/in", sign_in)],
        middleware=[Middleware(SessionMiddleware, secret_key="k" * 32)],
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app.test"
    ) as http:
        embed = await http.get("/timeback/timeback.js")
        assert (embed.status_code, embed.text) == (200, "/* the embed */")
        config = await http.get("/timeback.config.json")
        assert config.json()["name"] == CONFIG["name"]
        heartbeat = "/api/timeback/activity/heartbeat"
        assert (await http.post(heartbeat, json=heartbeat_body())).status_code == 401
        await http.get("/in")
        assert (await http.post(heartbeat, json=heartbeat_body())).status_code == 204
    await server.aclose()


def test_a_bundle_of_another_release_refuses_to_be_served(tmp_path: Path) -> None:
    folder = _bundle(tmp_path / "old", version="0.0.9+gabc")
    with pytest.raises(SettingsError, match=r"is tracker 0\.0\.9\+gabc, this server is"):
        check_bundle_version(folder)


def test_local_builds_of_one_release_match(tmp_path: Path) -> None:
    folder = _bundle(tmp_path / "local", version=f"{__version__}+g0123456789ab")
    assert check_bundle_version(folder) == f"{__version__}+g0123456789ab"
    assert check_bundle_version(tmp_path / "none") is None
