"""The test infrastructure itself: recorder faults, real hidden tabs over CDP, fake clock."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from playwright.sync_api import Page, Playwright

from tracker.config import parse_config

from .conftest import PAGES, assert_local
from .helpers import LESSON, wait_ready
from .recorder import CLOSE, Recorder
from .site import TEST_CONFIG, LiveSite, ServerThread, Site

POST = """async ([url, body]) => {
    try {
        const response = await fetch(url, {method: "POST", body,
                                           headers: {"content-type": "application/json"}});
        return [response.status, await response.text()];
    } catch (error) {
        return ["network error", error.name];
    }
}"""
WINDOW = (
    '{"runId": "f47ac10b-58cc-4372-a567-0e02b2c3d479", "startedAt": "2026-01-27T10:00:00.000Z"}'
)


def test_recorder_logs_dedupes_and_fails_on_demand(
    page: Page, site: LiveSite, recorder: Recorder
) -> None:
    page.goto(f"{site.url}/blank.html")
    url = f"{site.url}/api/timeback/activity/heartbeat"

    recorder.fail_next("/activity/heartbeat", 2, status=503)
    answers = [page.evaluate(POST, [url, WINDOW])[0] for _ in range(3)]
    assert answers == [503, 503, 204]
    assert page.evaluate(POST, [url, WINDOW]) == [200, '{"duplicate":true}']

    recorder.go_down(status=CLOSE)
    assert page.evaluate(POST, [url, WINDOW]) == ["network error", "TypeError"]
    recorder.come_back()
    submit = page.evaluate(POST, [f"{site.url}/api/timeback/activity/submit", "{}"])
    assert submit == [204, ""]

    log = recorder.requests
    answered = [(r.route, r.status) for r in log]
    # Chromium resends a request once when a reused connection closes without an answer:
    # the dropped heartbeat is logged once or twice, and the log entry of a dropped
    # connection may land after the next request's, so drops are checked apart.
    dropped = answered.count(("/activity/heartbeat", None))
    assert dropped in (1, 2)
    assert answered.index(("/activity/heartbeat", None)) > 3
    assert [a for a in answered if a != ("/activity/heartbeat", None)] == [
        ("/activity/heartbeat", 503),
        ("/activity/heartbeat", 503),
        ("/activity/heartbeat", 204),
        ("/activity/heartbeat", 200),
        ("/activity/submit", 204),
    ]
    assert log[0].method == "POST"
    assert log[0].headers["content-type"] == "application/json"
    assert log[0].json()["runId"] == "f47ac10b-58cc-4372-a567-0e02b2c3d479"
    assert log[0].received_at <= log[0].answered_at


def test_cdp_browser_has_real_hidden_tabs(
    playwright: Playwright, playwright_config: ModuleType, site: LiveSite
) -> None:
    urls: list[str] = []
    with playwright_config.cdp_chromium(playwright) as browser:
        context = browser.contexts[0]
        context.on("request", lambda request: urls.append(request.url))
        lesson = context.new_page()
        lesson.goto(f"{site.url}/blank.html")
        lesson.evaluate(
            """() => { window.changes = [];
                document.addEventListener("visibilitychange",
                    () => changes.push(document.visibilityState)); }"""
        )
        assert lesson.evaluate("document.visibilityState") == "visible"
        other = context.new_page()
        other.goto(f"{site.url}/blank.html")
        other.bring_to_front()
        lesson.wait_for_function("document.visibilityState === 'hidden'")
        lesson.bring_to_front()
        lesson.wait_for_function("document.visibilityState === 'visible'")
        assert lesson.evaluate("changes") == ["hidden", "visible"]
    assert_local(urls)


def test_fake_clock_drives_heartbeats_of_a_booted_tracker(
    page: Page, site: LiveSite, recorder: Recorder
) -> None:
    page.clock.install()  # before goto, or the page keeps the real timers
    page.goto(f"{site.url}/embed.html")
    assert wait_ready(page) is None  # time flows while installed, so Pyodide boots

    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)
    page.evaluate("(lesson) => { window.activity = timeback.activity.start(lesson); }", LESSON)
    page.clock.run_for("00:31")  # two flush intervals of 15 s
    windows = recorder.wait_for("/activity/heartbeat", count=2)
    assert [w.json()["elapsedMs"] for w in windows[:2]] == [15000, 15000]


def test_recorder_can_front_the_real_server(page: Page, site: LiveSite, tmp_path: Path) -> None:
    """The stub's place can be taken by tracker.server: same recorder, same site."""
    from tracker.server.pipeline import now_ms
    from tracker.server.server import create_app
    from tracker.server.settings import Settings
    from tracker.timefmt import iso_from_epoch_ms

    settings = Settings(config=parse_config(TEST_CONFIG), database=tmp_path / "e2e.sqlite")
    app = create_app(settings, get_email=lambda request: "student@example.com")
    recorder = Recorder(app, mounted=True)
    server = ServerThread(Site(site.bundle, PAGES, recorder, TEST_CONFIG))
    server.start()
    try:
        page.goto(f"{server.url}/blank.html")
        url = f"{server.url}/api/timeback/activity/heartbeat"
        window = json.dumps(
            {
                "id": "lesson-1",
                "name": "Lesson 1",
                "course": {"subject": "Math", "grade": 3},
                "runId": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
                # A recent window: the server refuses one older than 30 days (issue 10).
                "startedAt": iso_from_epoch_ms(now_ms() - 15_000),
                "endedAt": iso_from_epoch_ms(now_ms()),
                "elapsedMs": 14200,
                "pausedMs": 800,
            }
        )
        assert page.evaluate(POST, [url, window])[0] == 204
        assert page.evaluate(POST, [url, window]) == [200, '{"duplicate":true}']
        assert [r.status for r in recorder.of("/activity/heartbeat")] == [204, 200]
    finally:
        server.stop()
