"""The real tracker in Chromium against the official server SDK (issue 9).

The official ``timeback-sdk`` FastAPI router runs in its Python >= 3.12 venv (as in
tests/compat), its platform calls answered by the suite's fake platform. The lesson page,
the bundle and the config come from a front on one origin that forwards ``/api/timeback``
to the official server, adding the student's identity header (the official's custom
identity mode), as an app in front of it would.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route

from tracker.server.static import BundleFiles

from ..compat.conftest import CONFIG, ENV, HERE, KID, KID_ID, _wait_until_up
from ..compat.fake_platform import FakePlatform
from ..compat.official_venv import SKIP_VARIABLE, OfficialUnavailableError, ensure_official_venv
from ..unit.server.helpers import UvicornThread, free_socket
from .helpers import errors, wait_ready
from .site import ServerThread

LESSON = "<script>window.activity = timeback.activity.start(%s);</script>"


@dataclass
class Official:
    url: str  # the front: page, bundle, config, and the API forwarded to the official
    platform: FakePlatform

    def events(self, run_id: str) -> list[dict[str, Any]]:
        session = f"urn:uuid:{run_id}"
        return [e for e in self.platform.client("official").events if e.get("session") == session]

    def wait(self, run_id: str, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events(run_id)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # one too many would arrive now
        return self.events(run_id)


@pytest.fixture(scope="module")
def official(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Official]:
    try:
        python = ensure_official_venv()
    except OfficialUnavailableError as exc:
        if os.environ.get(SKIP_VARIABLE) == "1":
            pytest.skip(f"OFFICIAL SERVER NOT TESTED: {exc}")
        pytest.fail(f"OFFICIAL SERVER NOT TESTED: {exc}", pytrace=False)
    tmp = tmp_path_factory.mktemp("official")
    config_file = tmp / "timeback.config.json"
    config_file.write_text(json.dumps(CONFIG))
    platform = FakePlatform()
    platform.add_user(KID, KID_ID, givenName="Kim", familyName="Doe", grades=["3"])
    with UvicornThread(platform.app()) as fake:
        sock = free_socket()
        port = sock.getsockname()[1]
        sock.close()
        process = subprocess.Popen(
            [
                str(python),
                str(HERE / "official_runner.py"),
                f"--port={port}",
                f"--platform={fake.url}",
                f"--config={config_file}",
                f"--env={ENV}",
                "--client-id=official",
            ]
        )
        api = f"http://127.0.0.1:{port}/api/timeback"
        try:
            _wait_until_up(api + "/user/verify", process)
            front = ServerThread(_front(bundle, api))
            front.start()
            try:
                yield Official(front.url, platform)
            finally:
                front.stop()
        finally:
            process.terminate()
            process.wait(timeout=10)


def _front(bundle: Path, api: str) -> Starlette:
    async def forward(request: Request) -> Response:
        headers = {"x-test-email": KID}
        if "content-type" in request.headers:
            headers["content-type"] = request.headers["content-type"]
        # A client per request: nothing is left open when the front stops (pytest strict).
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.request(
                request.method,
                f"{api}/{request.path_params['path']}",
                content=await request.body(),
                headers=headers,
            )
        kept = {k: v for k, v in answer.headers.items() if k in ("content-type",)}
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    async def page(request: Request) -> HTMLResponse:
        params = request.query_params.get("params", "{}")
        return HTMLResponse(
            "<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'>"
            "<script src='/timeback/timeback.js' data-base='/api/timeback'"
            " data-config='/timeback.config.json'></script></head><body>"
            + LESSON % params
            + "</body></html>"
        )

    async def config(request: Request) -> JSONResponse:
        return JSONResponse(CONFIG)

    return Starlette(
        routes=[
            Route("/api/timeback/{path:path}", forward, methods=["GET", "POST"]),
            Route("/lesson.html", page),
            Route("/timeback.config.json", config),
            Mount("/timeback", BundleFiles(directory=bundle)),
        ]
    )


def _open(page: Page, official: Official, **params: Any) -> str:
    run_id = str(uuid.uuid4())
    lesson = {"id": f"lesson-{run_id[:8]}", "name": "Official", "course": {"code": "MATH-3"}}
    lesson.update(params, runId=run_id)
    page.goto(f"{official.url}/lesson.html?params={json.dumps(lesson)}")
    assert wait_ready(page) is None
    return run_id


def _kinds(events: list[dict[str, Any]]) -> list[str]:
    return [str(e["type"]) for e in events]


def test_heartbeats_completion_process_false_and_time_override_reach_caliper_once(
    official: Official, page: Page, console: list[tuple[str, str]]
) -> None:
    run_id = _open(page, official, process=False)
    page.wait_for_timeout(300)
    page.evaluate("activity.flushTimeSpent()")
    assert _kinds(official.wait(run_id, 1)) == ["TimeSpentEvent"]
    page.evaluate(
        "activity.end({xpEarned: 4, totalQuestions: 5, correctQuestions: 4,"
        " time: {active: 60000, inactive: 5000}})"
    )
    events = official.wait(run_id, 3)
    # The flush, then the override as one window (the official ignores time in a submit),
    # then the completion: each exactly once.
    assert _kinds(events) == ["TimeSpentEvent", "TimeSpentEvent", "ActivityEvent"]
    items = {i["type"]: i["value"] for i in events[1]["generated"]["items"]}
    assert items == {"active": 60.0, "inactive": 5.0}
    assert events[2]["object"].get("process") is False
    assert errors(console) == []


def test_a_beacon_window_is_not_resent_to_a_server_that_forgets_after_5_minutes(
    official: Official, context: BrowserContext, console: list[tuple[str, str]]
) -> None:
    page = context.new_page()
    run_id = _open(page, official)
    page.wait_for_timeout(300)
    page.close()  # pagehide: the open window leaves by beacon, and is kept (P3)
    assert _kinds(official.wait(run_id, 1)) == ["TimeSpentEvent"]
    # A load 10 minutes later: the official server would count the kept window again (its
    # dedupe forgets after 5 minutes), so the tracker lets it go instead of resending it.
    # (This fake platform's official server still remembers the window, so the check is on
    # the wire: the old window must not leave the page at all.)
    later = context.new_page()
    sent: list[str] = []
    later.on("request", lambda request: sent.append(request.post_data or ""))
    later.clock.install(time=time.time() + 600)
    _open(later, official)
    later.wait_for_timeout(1_000)
    assert not [body for body in sent if run_id in body]
    keys = later.evaluate("Object.keys(localStorage).filter(k => k.startsWith('timeback.window.'))")
    assert keys == []
    assert _kinds(official.wait(run_id, 2, timeout=3)) == ["TimeSpentEvent"]
    assert errors(console) == []
