"""The npm package's React hook and Vue composable, bundled as an app would, in Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from .conftest import EXAMPLES
from .frontend import build_examples
from .helpers import HEARTBEAT, SUBMIT, errors, wait_ready
from .recorder import Recorder
from .site import LiveSite


@pytest.fixture(scope="module")
def examples() -> Path:
    return build_examples(EXAMPLES)


def _run_ids(recorder: Recorder) -> set[str]:
    return {request.json()["runId"] for request in recorder.of(HEARTBEAT) + recorder.of(SUBMIT)}


def test_react_hook_under_strict_mode_runs_one_activity(
    examples: Path, page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    page.goto(f"{site.url}/examples/react/")
    assert wait_ready(page) is None
    page.wait_for_function("() => window.lesson && window.lesson.activity")
    page.wait_for_timeout(300)  # some time to track
    page.click("#finish")
    page.wait_for_function("() => document.getElementById('status').textContent === 'done'")

    submits = recorder.of(SUBMIT)
    assert len(submits) == 1
    assert submits[0].json()["metrics"] == {
        "xpEarned": 3,
        "totalQuestions": 4,
        "correctQuestions": 3,
    }
    # StrictMode mounted the lesson twice: still one run, whose final window holds the time.
    assert len(_run_ids(recorder)) == 1
    heartbeats = [request.json() for request in recorder.of(HEARTBEAT)]
    assert sum(body["elapsedMs"] for body in heartbeats) >= 300
    assert errors(console) == []


def test_react_hook_ends_with_time_only_when_the_lesson_unmounts(
    examples: Path, page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    page.goto(f"{site.url}/examples/react/")
    assert wait_ready(page) is None
    page.wait_for_function("() => window.lesson && window.lesson.activity")
    run_id = page.evaluate("() => window.lesson.activity.runId")
    page.wait_for_timeout(200)
    page.click("#toggle")  # the lesson component goes away
    page.wait_for_function("() => timeback.activity.current === null")
    recorder.wait_for(HEARTBEAT)
    assert recorder.of(SUBMIT) == []
    heartbeats = [request.json() for request in recorder.of(HEARTBEAT)]
    assert {body["runId"] for body in heartbeats} == {run_id}
    assert sum(body["elapsedMs"] for body in heartbeats) >= 200
    assert errors(console) == []


def test_vue_composable_loads_the_embed_itself_and_completes(
    examples: Path, page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    page.goto(f"{site.url}/examples/vue/")
    # No tag on the page: the composable added it.
    page.wait_for_function("() => window.timeback !== undefined")
    tags = page.evaluate("() => document.querySelectorAll('script[src$=\"timeback.js\"]').length")
    assert tags == 1
    assert wait_ready(page) is None
    page.wait_for_function("() => window.lesson.activity.value !== null")
    page.click("#finish")
    page.wait_for_function("() => document.getElementById('status').textContent === 'done'")
    submits = recorder.of(SUBMIT)
    assert len(submits) == 1
    assert submits[0].json()["course"] == {"code": "READ-1"}
    # Unmounting an ended lesson sends nothing more.
    count = len(recorder.requests)
    page.evaluate("() => window.app.unmount()")
    page.wait_for_timeout(200)
    assert len(recorder.requests) == count
    assert len(_run_ids(recorder)) == 1
    assert errors(console) == []
