"""The static build of the demo (``tracker demo --static OUT``) against the real server demo.

The folder is served by Python's own ``http.server`` under a path prefix, with no app server
anywhere: the server code of ``tracker demo`` runs in the page's Pyodide behind
``server-shim.js``. One scripted session (sign in, a quiz with heartbeats, leaving it as the
page closes, coming back to finish it, the stateful story over three visits that the server
completes, the dashboard) runs on ``tracker demo`` and on the static folder; both dashboards
must say the same.
"""

from __future__ import annotations

import functools
import gzip
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import brotli
import pytest
from playwright.sync_api import Browser, Page, expect

pytest.register_assert_rewrite("tests.e2e.demo_fixtures")

from tracker.cli import main as tracker_cli  # noqa: E402

from .demo_fixtures import (  # noqa: E402
    DemoProcess,
    advance,
    dashboard,
    panel,
    sign_in,
    wait_booted,
    wait_for_js,
)
from .helpers import boot_timeout_ms, errors  # noqa: E402

pytest_plugins = ["tests.e2e.demo_fixtures"]

PREFIX = "/some/prefix/"
ANSWERS = ("3/5", "7/8", "4/6", "1 whole", "5/7")
# The stateful story, one visit a part; the server scores it and gives its XP.
STORY_PARTS = (
    ("Eleven winters", "A green light"),
    ("Its engine had failed", "Two short flashes"),
    ("Safe in the harbour", "How a keeper's signal saved a boat"),
)
STORY_VISIT_S = 40
# Fake seconds per question: the session's heartbeats then fall well inside the 15 s
# flush intervals (a few real seconds of page loads cannot add one) and its XP well inside
# one rounding step of the minutes (1 XP per minute).
PER_QUESTION_S = 18


class QuietHandler(SimpleHTTPRequestHandler):
    paths: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        self.paths.append(self.path)


@pytest.fixture(scope="module")
def static_site(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    www = tmp_path_factory.mktemp("www")
    out = www / PREFIX.strip("/")
    assert tracker_cli(["demo", "--static", str(out), "--bundle", str(bundle)]) == 0

    class Handler(QuietHandler):
        paths: list[str] = []  # one list per fixture, read after shutdown

    handler = Handler
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
    server.shutdown()
    server.server_close()
    # Only files were asked for: nothing reached for a server route.
    asked = handler.paths
    assert asked
    assert not [p for p in asked if "/api/" in p or "/auth/" in p], asked


def test_static_build_has_relative_urls_and_the_in_page_server(
    static_site: str, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    assert tracker_cli(["demo", "--static", str(out)]) == 0
    assert not (out / "assets" / "standin.js").exists()
    page = (out / "lessons" / "fractions.html").read_text()
    assert 'data-mode="static"' in page
    assert '<script src="../assets/server-shim.js"></script>' in page
    assert page.index("server-shim.js") < page.index("timeback/timeback.js")
    assert 'src="/' not in page and 'href="/' not in page
    # Pages without a lesson get the embed too: its Pyodide runs the in-page server.
    index = (out / "index.html").read_text()
    assert index.index("assets/server-shim.js") < index.index('src="timeback/timeback.js"')
    with zipfile.ZipFile(out / "assets" / "server" / "server.zip") as archive:
        names = set(archive.namelist())
    for name in (
        "site/tracker/server/pipeline.py",
        "site/tracker/server/store/memory.py",
        "site/tracker/demo/inpage.py",
        "site/starlette/applications.py",
        "site/tzdata/__init__.py",
        "web/lessons.json",
        "web/timeback.config.json",
    ):
        assert name in names, name
    (wasm,) = (out / "timeback").glob("r-*/pyodide.asm.wasm")
    # The precompressed siblings travel with the bundle, for brotli_static / gzip_static.
    assert (
        brotli.decompress((wasm.parent / "pyodide.asm.wasm.br").read_bytes()) == wasm.read_bytes()
    )
    assert gzip.decompress((wasm.parent / "pyodide.asm.wasm.gz").read_bytes()) == wasm.read_bytes()
    assert (out / "timeback.config.json").is_file()
    # A folder that holds something else is not overwritten.
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    assert tracker_cli(["demo", "--static", str(other)]) == 2
    assert (other / "keep.txt").read_text() == "mine"


def _session(page: Page, base: str, email: str) -> dict[str, Any]:
    """The scripted session; returns the dashboard's data and the user's Caliper events."""
    sign_in(page, base, email)
    page.clock.install()
    page.goto(f"{base}lessons/fractions.html")
    wait_booted(page)
    advance(page, 16)  # one flush interval
    assert any("+0:15.0 active" in line for line in panel(page)["flushes"])
    # Leaving the page: its last window goes out as the page closes.
    page.goto(f"{base}index.html")
    expect(page.locator("[data-lesson]")).to_have_count(3, timeout=boot_timeout_ms())
    # Back to the lesson, through to the end.
    page.goto(f"{base}lessons/fractions.html")
    wait_booted(page)
    for answer in ANSWERS:
        page.get_by_role("button", name=answer, exact=True).click()
        advance(page, PER_QUESTION_S)
        page.locator("[data-next]").click()
    expect(page.locator("[data-result]")).to_be_visible(timeout=boot_timeout_ms())
    wait_for_js(page, "window.lesson.activity.isEnded")
    # The story: the server keeps the run over visits and completes it itself.
    for part, choices in enumerate(STORY_PARTS, start=1):
        page.goto(f"{base}lessons/story.html")
        wait_booted(page)
        expect(page.locator("[data-visit]")).to_have_attribute("data-visit", str(part))
        advance(page, STORY_VISIT_S)
        for choice in choices:
            page.get_by_label(choice, exact=True).check()
        page.locator("[data-part] button[type=submit]").click()
        if part < len(STORY_PARTS):
            expect(page.locator("[data-saved]")).to_have_attribute("data-saved", str(part))
    expect(page.locator("[data-result]")).to_be_visible(timeout=boot_timeout_ms())
    data = dashboard(page, base)
    events: list[dict[str, Any]] = page.evaluate(
        "demo.api('demo/api/events?after=0&limit=200').then((d) => d.events)"
    )
    return {"dashboard": data, "events": events}


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    data = run["dashboard"]
    return {
        "xp": data["xp"]["allTime"],
        "attempts": [
            (g["activityUrl"].split("/")[-1], g["attempt"], g["xpCredited"])
            for g in data["gradebook"]
        ],
        "scores": [g["score"] for g in data["gradebook"]],
        "progress": {c["name"]: (c["pctComplete"], c["masteredUnits"]) for c in data["courses"]},
        "events": sorted(
            (e["type"], e["event"].get("action")) for e in run["events"] if "event" in e
        ),
    }


def _active_ms(run: dict[str, Any]) -> float:
    """The active time of the run's TimeSpentEvents (metric values are seconds)."""
    return 1000 * sum(
        float(item["value"])
        for e in run["events"]
        if e.get("event", {}).get("type") == "TimeSpentEvent"
        for item in e["event"]["generated"]["items"]
        if item["type"] == "active"
    )


def test_static_dashboard_agrees_with_the_server_demo(
    browser: Browser,
    page: Page,
    static_site: str,
    demo_site: DemoProcess,
    email: str,
    console: list[tuple[str, str]],
) -> None:
    # A context of its own: the fake clock is the context's, and each session has its own.
    other = browser.new_context()
    try:
        server_page = other.new_page()
        server_page.on("console", lambda message: console.append((message.type, message.text)))
        server_page.on("pageerror", lambda error: console.append(("pageerror", str(error))))
        served = _session(server_page, demo_site.url, email)
    finally:
        other.close()
    static = _session(page, static_site, email)

    assert _summary(static) == _summary(served)
    courses = {c["name"]: c for c in static["dashboard"]["courses"]}
    assert (courses["Math G3"]["pctComplete"], courses["READ-4"]["pctComplete"]) == (50, 33)
    assert [g["score"] for g in static["dashboard"]["gradebook"]] == [100, 100]
    assert static["dashboard"]["xp"]["allTime"] >= 2
    # Windows of both lessons and their two completions.
    assert len(static["events"]) >= 2 + 8 + 3 * 3
    # Minutes: each dashboard shows exactly the active time of the windows its server
    # turned into events. The two sessions' inputs differ by a few real seconds (the fake
    # clock flows in real time while pages load and boot, and the static pages also load
    # the server), so the totals are compared through their inputs, and then bounded.
    minutes = [run["dashboard"]["activeMinutes"]["allTime"] for run in (served, static)]
    assert minutes == [round(_active_ms(run) / 60_000, 2) for run in (served, static)]
    assert abs(minutes[0] - minutes[1]) <= 0.25, minutes
    # What a closing page left for the next page's server was replayed and cleared.
    assert page.evaluate("localStorage.getItem('demo.static.pending')") is None
    assert errors(console) == []
