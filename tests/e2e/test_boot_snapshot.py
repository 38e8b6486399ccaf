"""The memory snapshot (issue 8): a broken one falls back to the normal boot and tracks.

The bundle's snapshot is checked for integrity like every other file; a corrupt download
must cost speed, never the lesson's time (W3: the window still holds the active time).
"""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Page

from .helpers import LESSON, errors, wait_ready
from .recorder import Recorder
from .site import LiveSite

HEARTBEAT = "/activity/heartbeat"
FALLBACK_WARNING = "the memory snapshot cannot be used"


def on_dom_ready(page: Page, body: str, **values: Any) -> None:
    """Runs ``body`` at DOMContentLoaded: timeback.js has run, Python is still booting."""
    constants = "".join(f"const {name} = {json.dumps(value)};\n" for name, value in values.items())
    page.add_init_script(
        f'document.addEventListener("DOMContentLoaded", () => {{\n{constants}{body}\n}});'
    )


def test_the_embed_boots_from_the_snapshot(
    page: Page, site: LiveSite, console: list[tuple[str, str]]
) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{site.url}/embed.html")

    assert wait_ready(page) is None
    names = page.evaluate("performance.getEntriesByType('mark').map((mark) => mark.name)")
    assert "timeback-runtime:snapshot" in names
    assert "timeback-runtime:packages" not in names
    # Restored, not installed: no wheel was downloaded.
    assert not [url for url in requests if url.endswith(".whl")]
    assert not [text for kind, text in console if FALLBACK_WARNING in text]
    assert errors(console) == []


def test_a_corrupt_snapshot_falls_back_with_one_warning_and_still_tracks(
    page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    on_dom_ready(
        page,
        """
        const activity = timeback.activity.start(LESSON);
        window.boot = {startedAt: performance.now()};
        timeback.ready.then(() => setTimeout(() => {
            boot.flushedAt = performance.now();
            activity.flushTimeSpent();
        }, 300));
        """,
        LESSON=LESSON,
    )
    page.goto(f"{site.url}/broken-snapshot.html")

    assert wait_ready(page) is None
    warnings = [text for kind, text in console if FALLBACK_WARNING in text]
    assert len(warnings) == 1, console
    assert kind_of(console, warnings[0]) == "warning"
    names = page.evaluate("performance.getEntriesByType('mark').map((mark) => mark.name)")
    assert "timeback-runtime:packages" in names and "timeback-runtime:snapshot" not in names

    # W3: the window from start() to the flush is all active time (the page stayed visible).
    (window,) = recorder.wait_for(HEARTBEAT)
    boot = page.evaluate("boot")
    span = boot["flushedAt"] - boot["startedAt"]
    assert abs(window.json()["elapsedMs"] - span) <= 2
    assert window.json()["pausedMs"] == 0
    assert page.text_content("#status") == "page works"
    # The only errors are the browser's own report of the blocked download.
    assert all("integrity" in text and "snapshot.bin" in text for text in errors(console))


def kind_of(console: list[tuple[str, str]], text: str) -> str:
    return next(kind for kind, seen in console if seen == text)
