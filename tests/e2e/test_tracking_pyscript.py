"""A lesson page written in Python (PyScript): ``from tracker.browser import activity``.

pages/pyscript-lesson.html starts the activity from a Start button (5 s interval, Python
spelling) and ends it with completion data in Python spelling (``xp_earned``) from a Finish
button; it writes its callbacks to ``#log``. Same fake-clock timeline discipline as
test_tracking_time.py.
"""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Page

from .helpers import (
    FETCH_WATCH,
    HEARTBEAT,
    LESSON,
    SUBMIT,
    advance,
    assert_active_total,
    bodies,
    boot_timeout_ms,
    errors,
    freeze_clock,
    iso,
    set_visibility,
    window_body,
)
from .recorder import Recorder
from .site import LiveSite


def wait_status(page: Page, status: str, timeout: float | None = None) -> None:
    page.wait_for_function(
        "(status) => document.getElementById('status').textContent === status",
        arg=status,
        timeout=timeout,
    )


def lesson_log(page: Page) -> list[list[Any]]:
    entries: list[list[Any]] = json.loads(page.text_content("#log") or "[]")
    return entries


def test_python_lesson_page_tracks_time_and_submits_in_python_spelling(
    page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    """The Python API behaves as the JavaScript one: W5 (interval heartbeats, flush on
    hidden, end() flush), W3 and the overdue window on return (decisions), wire §1 submit
    built from ``{"xp_earned": 8, "total_questions": 10, "correct_questions": 8}``, isEnded
    and ``activity.current`` reset after end()."""
    page.clock.install()
    page.add_init_script(FETCH_WATCH)  # for advance()
    page.goto(f"{site.url}/pyscript-lesson.html")
    wait_status(page, "ready", timeout=boot_timeout_ms())
    freeze_clock(page)

    page.click("#start")
    wait_status(page, "running")
    (started,) = lesson_log(page)
    _, run_id, s = started
    advance(page, 12_000)  # heartbeats at 5 s and 10 s
    set_visibility(page, "hidden")  # t = 12 s: hide flush
    advance(page, 60_000)  # a minute hidden: no heartbeat
    set_visibility(page, "visible")  # t = 72 s: the overdue window closes
    advance(page, 2_000)
    page.click("#finish")
    wait_status(page, "ended")

    windows = bodies(recorder.wait_for(HEARTBEAT, count=5))
    assert windows == [
        window_body(LESSON, run_id, s, s + 5_000, 5_000, 0),
        window_body(LESSON, run_id, s + 5_000, s + 10_000, 5_000, 0),
        window_body(LESSON, run_id, s + 10_000, s + 12_000, 2_000, 0),  # hide flush
        window_body(LESSON, run_id, s + 12_000, s + 72_000, 0, 60_000),  # hidden stretch
        window_body(LESSON, run_id, s + 72_000, s + 74_000, 2_000, 0),  # end()
    ]
    assert_active_total(windows, 12_000 + 2_000)
    (submit,) = recorder.wait_for(SUBMIT)
    assert submit.json() == {
        "id": LESSON["id"],
        "name": LESSON["name"],
        "course": LESSON["course"],
        "runId": run_id,
        "endedAt": iso(s + 74_000),
        "metrics": {"xpEarned": 8, "totalQuestions": 10, "correctQuestions": 8},
        "process": True,
    }
    assert [r.route for r in recorder.requests] == [HEARTBEAT] * 5 + [SUBMIT]
    assert lesson_log(page)[1:] == [
        ["flush", 5_000],
        ["flush", 5_000],
        ["flush", 2_000],
        ["flush", 0],
        ["flush", 2_000],
        ["ended", True, True],  # is_ended, activity.current is None
    ]
    assert errors(console) == []
