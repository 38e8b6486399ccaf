"""`defer` and `async` tags (issue 11): the stub snippet queues the page's calls with their
time; the embed runs them when it loads, and start() takes the time the page asked (B1)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from ..docs_code import ROOT, blocks
from .conftest import EXAMPLES
from .helpers import HEARTBEAT, errors, wait_ready
from .recorder import Recorder
from .site import LiveSite

# The snippet exactly as docs/api.md gives it (its first line there).
STUB = next(
    line
    for block in blocks(ROOT / "docs" / "api.md")
    if "timeback.run(" in block.text
    for line in block.text.splitlines()
    if line.startswith("<script>window.timeback=")
)


def _page(name: str, mode: str) -> str:
    folder = EXAMPLES / "defer"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(
        "<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'>"
        f"{STUB}<script {mode} src='/timeback/timeback.js' data-base='/api/timeback'"
        " data-config='/timeback.config.json'></script></head><body><script>"
        "window.hadTimeback = typeof timeback.activity !== 'undefined';"
        "timeback.run(() => { window.askedAt = performance.timeOrigin + performance.now();"
        " window.activity = timeback.activity.start({id: 'defer-1', name: 'Deferred',"
        " course: {subject: 'Math', grade: 3}}); });"
        "window.queuedAt = performance.timeOrigin + performance.now();"
        "</script><p>a long page body</p></body></html>"
    )
    return f"/examples/defer/{name}"


@pytest.mark.parametrize("mode", ["defer", "async"])
def test_a_deferred_tag_runs_the_queued_start_at_the_time_the_page_asked(
    mode: str, page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    page.goto(site.url + _page(f"{mode}.html", mode))
    assert wait_ready(page) is None
    assert page.evaluate("window.hadTimeback") is False  # the page's script ran first
    state = page.evaluate(
        "({started: activity.startedAt.getTime(), queued: window.queuedAt, asked: window.askedAt})"
    )
    # The start is the page's run() call (±1 ms of rounding), not when the embed ran it.
    assert abs(state["started"] - state["queued"]) <= 2, state
    page.evaluate("activity.flushTimeSpent()")
    [window] = [r.json() for r in recorder.wait_for(HEARTBEAT)]
    assert window["id"] == "defer-1"
    assert errors(console) == []
