"""The static build of the demo (``tracker demo --static OUT``) on a plain static file server.

The folder is served by Python's own ``http.server`` under a path prefix, with no app
server anywhere: the tracker must still run, and the in-page stand-in must receive its
heartbeats, the beacon of a page that closes and the completion, and show them.
"""

from __future__ import annotations

import functools
import gzip
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import brotli
import pytest
from playwright.sync_api import Page, expect

pytest.register_assert_rewrite("tests.e2e.demo_fixtures")

from tracker.cli import main as tracker_cli  # noqa: E402

from .demo_fixtures import advance, dashboard, panel, sign_in, wait_booted  # noqa: E402
from .helpers import errors  # noqa: E402

PREFIX = "/some/prefix/"


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


def _inspector(page: Page) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = page.eval_on_selector_all(
        "[data-inspector-list] li[data-route]",
        "items => items.map(li => ({...li.dataset, text: li.textContent}))",
    )
    return rows


def test_static_build_has_relative_urls_and_the_stand_in(static_site: str, tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert tracker_cli(["demo", "--static", str(out)]) == 0
    page = (out / "lessons" / "fractions.html").read_text()
    assert 'data-mode="static"' in page
    assert '<script src="../assets/standin.js"></script>' in page
    assert page.index("standin.js") < page.index("timeback/timeback.js")
    assert 'src="/' not in page and 'href="/' not in page
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


def test_static_lesson_tracks_time_and_the_inspector_shows_what_was_sent(
    page: Page, static_site: str, console: list[tuple[str, str]]
) -> None:
    base = static_site
    sign_in(page, base, "visitor@example.com")
    expect(page.locator(".static-note")).to_be_visible()
    expect(page.locator("[data-lesson]")).to_have_count(3)

    page.clock.install()
    page.goto(f"{base}lessons/fractions.html")
    wait_booted(page)
    advance(page, 16)  # one flush interval
    beat = page.locator('[data-inspector-list] li[data-route="/activity/heartbeat"]').first
    expect(beat).to_have_attribute("data-transport", "fetch")
    expect(beat).to_have_attribute("data-status", "204")
    expect(beat).to_contain_text("active 15.0 s")
    assert any("+0:15.0 active" in line for line in panel(page)["flushes"])

    # Leaving the page: the tracker's pagehide beacon is on the next page.
    page.goto(f"{base}index.html")
    beacon = page.locator('[data-inspector-list] li[data-transport="beacon"]').first
    expect(beacon).to_have_attribute("data-route", "/activity/heartbeat")
    expect(beacon).to_contain_text("from lessons/fractions.html")

    # Back to the lesson, through to the end: the completion goes to the stand-in too.
    page.goto(f"{base}lessons/fractions.html")
    wait_booted(page)
    for answer in ("3/5", "7/8", "4/6", "1 whole", "5/7"):
        page.get_by_role("button", name=answer, exact=True).click()
        advance(page, 20)
        page.locator("[data-next]").click()
    expect(page.locator("[data-result]")).to_be_visible()
    xp = int(page.get_attribute("[data-xp]", "data-xp") or "-1")
    assert xp >= 1
    submit = page.locator('[data-inspector-list] li[data-route="/activity/submit"]')
    expect(submit).to_have_count(1)
    expect(submit).to_contain_text(f"{xp} XP · 5/5")

    sent = _inspector(page)
    beats = [row for row in sent if row["route"] == "/activity/heartbeat"]
    assert len(beats) >= 6
    assert {row["status"] for row in beats} <= {"204", "200"}  # 200: a resent window
    stored = page.evaluate("JSON.parse(localStorage.getItem('demo.static.inbox'))")
    bodies = [entry["body"] for entry in stored if entry["route"] == "/activity/submit"]
    assert bodies[0]["metrics"] == {
        "xpEarned": xp,
        "totalQuestions": 5,
        "correctQuestions": 5,
        "masteredUnits": 1,
    }

    # The static dashboard adds up what the stand-in received.
    data = dashboard(page, base)
    assert data["xp"]["allTime"] == xp
    assert data["gradebook"][0]["score"] == 100
    math = next(c for c in data["courses"] if c["subject"] == "Math")
    assert math["pctComplete"] == 50
    assert errors(console) == []
