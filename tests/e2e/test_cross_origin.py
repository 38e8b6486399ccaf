"""A lesson page on one origin, the bundle on a CDN-like static origin, the API on a third
(issue 11): the real tracker in Chromium boots from the static host, and its heartbeats,
completion and page-exit beacon reach the real server through CORS with credentials."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from tracker.config import parse_config
from tracker.server import Settings, TimebackServer
from tracker.server.static import BundleFiles

from .helpers import errors, wait_ready
from .site import TEST_CONFIG, ServerThread

STUDENT = "far-away@example.com"


@dataclass
class Origins:
    lesson: ServerThread
    static: ServerThread
    api: ServerThread
    server: TimebackServer


@pytest.fixture(scope="module")
def origins(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Origins]:
    urls: dict[str, str] = {}

    async def lesson_page(request: Request) -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'>"
            f"<script src='{urls['static']}/timeback/timeback.js'"
            f" data-base='{urls['api']}/api/timeback'></script></head><body>"
            "<script>window.activity = timeback.activity.start({id: 'far-1', name: 'Far',"
            " course: {subject: 'Math', grade: 3}});</script></body></html>"
        )

    lesson = ServerThread(Starlette(routes=[Route("/lesson.html", lesson_page)]))
    static = ServerThread(Starlette(routes=[Mount("/timeback", BundleFiles(directory=bundle))]))
    server = TimebackServer(
        Settings(
            config=parse_config(TEST_CONFIG),
            database=tmp_path_factory.mktemp("cross") / "tracker.sqlite3",
            allowed_origins=(lesson.url,),
        ),
        get_email=lambda request: STUDENT,
    )
    api = ServerThread(Starlette(routes=[Mount("/api/timeback", server.app)]))
    urls.update(static=static.url, api=api.url)
    for thread in (lesson, static, api):
        thread.start()
    yield Origins(lesson, static, api, server)
    for thread in (lesson, static, api):
        thread.stop()
    server.close()


def _events(server: TimebackServer, kind: str) -> list[dict[str, object]]:
    return [e for e in server.store.events(user_email=STUDENT) if e["type"] == kind]


def _wait(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_lesson_on_another_origin_tracks_through_cors(
    origins: Origins, page: Page, console: list[tuple[str, str]]
) -> None:
    page.goto(f"{origins.lesson.url}/lesson.html")
    assert wait_ready(page) is None
    page.evaluate("activity.flushTimeSpent()")
    _wait(lambda: len(_events(origins.server, "TimeSpentEvent")) >= 1)
    # The answer's identity tag was readable across origins (exposed), so the window was
    # acknowledged and let go.
    assert (
        page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('timeback.window.'))")
        == []
    )
    page.wait_for_timeout(300)
    before = len(_events(origins.server, "TimeSpentEvent"))
    page.close()  # pagehide: the open window leaves by beacon, as text/plain to the API
    _wait(lambda: len(_events(origins.server, "TimeSpentEvent")) == before + 1)
    assert errors(console) == []
