"""The static demo's in-page server (issue 13) under CPython: the bridge, the cookie jar,
the saved state that reopens on the next page, the archive the static build ships."""

from __future__ import annotations

import json
import shutil
import sys
import types
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tracker.demo.catalogue import default_config, web_root
from tracker.demo.inpage import CookieJar, InPageServer, open_in_page
from tracker.demo.state import DemoState
from tracker.demo.static import ARCHIVE, MANIFEST, SERVER_DIR, write_server
from tracker.demo.stdlib_path import extend_stdlib
from tracker.server.pipeline import now_ms
from tracker.timefmt import iso_from_epoch_ms

from .server.helpers import heartbeat_body

ORIGIN = "http://127.0.0.1:8700"
JSON = [("content-type", "application/json"), ("origin", ORIGIN)]
EMAIL = "reader@example.com"


def _open(data: Path, saved: dict[str, str] | None = None) -> InPageServer:
    return InPageServer.open(data=data, config=default_config(), web=web_root(), saved=saved)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[InPageServer]:
    opened = _open(tmp_path / "data")
    yield opened
    opened.close()


async def _call(server: InPageServer, method: str, path: str, body: Any = None) -> Any:
    raw = b"" if body is None else json.dumps(body).encode()
    answer = await server.handle(method, f"{ORIGIN}{path}", JSON if raw else [], raw)
    assert answer.status < 300, (answer.status, answer.body)
    return json.loads(answer.body) if answer.body else None


def _window(run_id: str, start_ms: int) -> dict[str, Any]:
    """A full 15 s window that ended recently (the server refuses old ones)."""
    return heartbeat_body(
        runId=run_id,
        startedAt=iso_from_epoch_ms(start_ms),
        endedAt=iso_from_epoch_ms(start_ms + 15000),
        elapsedMs=15000,
        pausedMs=0,
    )


async def test_sign_in_sets_the_cookie_the_next_requests_carry(server: InPageServer) -> None:
    assert await _call(server, "GET", "/demo/api/session") == {"email": None}
    assert await _call(server, "POST", "/auth/login", {"email": EMAIL}) == {"email": EMAIL}
    assert list(server.jar.cookies) == ["timeback_session"]
    assert await _call(server, "GET", "/demo/api/session") == {"email": EMAIL}
    await _call(server, "POST", "/auth/logout")
    assert server.jar.cookies == {}
    assert await _call(server, "GET", "/demo/api/session") == {"email": None}


async def test_a_heartbeat_goes_through_the_servers_pipeline(server: InPageServer) -> None:
    await _call(server, "POST", "/auth/login", {"email": EMAIL})
    window = _window("f47ac10b-58cc-4372-a567-0e02b2c3d479", now_ms() - 20_000)
    assert await _call(server, "POST", "/api/timeback/activity/heartbeat", window) is None
    # The server's own duplicate rule: the same window again is not counted twice.
    assert await _call(server, "POST", "/api/timeback/activity/heartbeat", window) == {
        "duplicate": True
    }
    board = await _call(server, "GET", "/demo/api/dashboard?tz=Europe/Berlin")
    assert board["activeMinutes"]["allTime"] == 0.25
    events = await _call(server, "GET", "/demo/api/events")
    assert [e["type"] for e in events["events"]] == ["TimeSpentEvent"]


async def test_refusals_are_the_servers(server: InPageServer) -> None:
    answer = await server.handle("GET", f"{ORIGIN}/demo/api/dashboard", [], b"")
    assert answer.status == 401
    answer = await server.handle(
        "POST", f"{ORIGIN}/auth/login", [("content-type", "application/json")], b"{"
    )
    assert answer.status == 400


async def test_the_saved_state_reopens_signed_in_with_the_same_data(tmp_path: Path) -> None:
    first = _open(tmp_path / "one")
    await _call(first, "POST", "/auth/login", {"email": EMAIL})
    window = _window("0b6c0b54-8a4f-4d0e-9f3b-6f0c6f1f2a10", now_ms() - 20_000)
    await _call(first, "POST", "/api/timeback/activity/heartbeat", window)
    saved = json.loads(first.saved_json())
    first.close()
    # Another page: a fresh folder, everything from what the first page saved.
    shutil.copytree(web_root(), tmp_path / "two" / "server" / "web")
    second = open_in_page(str(tmp_path / "two"), json.dumps(saved))
    try:
        assert await _call(second, "GET", "/demo/api/session") == {"email": EMAIL}
        events = await _call(second, "GET", "/demo/api/events")
        assert len(events["events"]) == 1
    finally:
        second.close()


async def test_handle_json_is_the_shims_form(server: InPageServer) -> None:
    request = {
        "method": "POST",
        "url": f"{ORIGIN}/auth/login",
        "headers": JSON,
        "body": json.dumps({"email": EMAIL}),
    }
    answer = json.loads(await server.handle_json(json.dumps(request)))
    assert answer["status"] == 200
    assert json.loads(answer["body"]) == {"email": EMAIL}
    assert ["content-type", "application/json"] in answer["headers"]


def test_the_cookie_jar_keeps_and_forgets_as_a_browser_does() -> None:
    jar = CookieJar()
    assert jar.header() is None
    jar.take("a=1; Path=/; HttpOnly; SameSite=Lax")
    jar.take("b=2; Max-Age=3600")
    assert jar.header() == "a=1; b=2"
    jar.take("a=; Max-Age=0")
    jar.take("b=gone; expires=Thu, 01 Jan 1970 00:00:00 GMT", now_s=1000.0)
    assert jar.cookies == {}
    jar.take("c=3; expires=Fri, 01 Jan 2100 00:00:00 GMT; Max-Age=junk")
    jar.take("not a cookie;;; =")
    assert jar.cookies == {"c": "3"}


def test_demo_state_in_memory_reopens_from_its_image() -> None:
    state = DemoState(None)
    run = state.visit(EMAIL, "the-lighthouse-keeper")
    image = state.image()
    state.close()
    again = DemoState(None, image=image)
    try:
        found = again.get(EMAIL, "the-lighthouse-keeper")
        assert found is not None and found.run_id == run.run_id
    finally:
        again.close()


def test_extend_stdlib_adds_the_full_zips_folders_to_imported_packages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    package = types.ModuleType("slimpkg")
    package.__path__ = ["/lib/python314.zip/slimpkg"]
    monkeypatch.setitem(sys.modules, "slimpkg", package)
    monkeypatch.setattr(sys, "path", list(sys.path))
    extend_stdlib("/tmp/full.zip")
    extend_stdlib("/tmp/full.zip")  # twice is harmless
    assert package.__path__ == ["/lib/python314.zip/slimpkg", "/tmp/full.zip/slimpkg"]
    assert sys.path.count("/tmp/full.zip") == 1


def test_the_archive_holds_the_server_its_wheels_and_the_demo_files(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    bundle = tmp_path / "bundle"
    (bundle / "r-0123").mkdir(parents=True)
    (bundle / "r-0123" / "python_stdlib.zip").write_bytes(b"")
    folder = write_server(
        tmp_path / "out",
        bundle=bundle,
        web=web_root(),
        config=default_config(),
        cache=root / ".cache",
    )
    assert folder == tmp_path / "out" / SERVER_DIR
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest == {"archive": ARCHIVE, "stdlib": "../../timeback/r-0123/python_stdlib.zip"}
    with zipfile.ZipFile(folder / ARCHIVE) as archive:
        names = set(archive.namelist())
    assert "site/tracker/server/store/memory.py" in names
    assert "site/itsdangerous/__init__.py" in names
    assert "web/lessons/story.json" in names
    assert not [name for name in names if name.startswith("site/tracker/build/")]
