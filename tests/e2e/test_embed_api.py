"""``window.timeback`` as a lesson page uses it: calls during boot (B1), errors, callbacks."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from playwright.sync_api import Page

from .helpers import LESSON, READING, errors, wait_ready
from .recorder import Recorder
from .site import LiveSite

HEARTBEAT = "/activity/heartbeat"


def on_dom_ready(page: Page, body: str, **values: Any) -> None:
    """Runs ``body`` at DOMContentLoaded: timeback.js has run, Python is still booting."""
    constants = "".join(f"const {name} = {json.dumps(value)};\n" for name, value in values.items())
    page.add_init_script(
        f'document.addEventListener("DOMContentLoaded", () => {{\n{constants}{body}\n}});'
    )


def iso_ms(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


def test_start_during_boot_is_synchronous_and_replayed_with_call_times(
    page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    on_dom_ready(
        page,
        """
        const booting = () => performance.getEntriesByName("timeback:ready").length === 0;
        const calledAt = performance.now();
        const activity = timeback.activity.start(LESSON);
        const returnedAt = performance.now();
        window.activity = activity;
        window.boot = {
            booting: booting(),
            calledAt,
            before: JSON.parse(JSON.stringify(activity)),
            startedAtMs: activity.startedAt.getTime(),
            expectedStartMs: performance.timeOrigin + calledAt,
            returnedMs: performance.timeOrigin + returnedAt,
            isCurrent: timeback.activity.current === activity,
        };
        try {
            timeback.activity.start(READING);
        } catch (error) {
            boot.second = {name: error.name, message: error.message,
                           isError: error instanceof Error};
        }
        setTimeout(() => {
            boot.endBooting = booting();
            boot.endCalledAt = performance.now();
            boot.activeBeforeEnd = activity.totalActiveMs;
            boot.ended = activity.end().then(() => "resolved", (e) => `${e.name}: ${e.message}`);
        }, 300);
        """,
        LESSON=LESSON,
        READING=READING,
    )
    page.goto(f"{site.url}/embed.html")
    assert wait_ready(page) is None

    boot = page.evaluate("boot")
    assert boot["booting"] and boot["endBooting"], "the calls must happen while booting"
    before = boot["before"]
    assert before["id"] == LESSON["id"]
    assert len(before["runId"]) == 36 and before["runId"].count("-") == 4
    assert (before["isPaused"], before["isEnded"]) == (False, False)
    # The instant of the call (T3), in whole ms: timeOrigin and the call time are each rounded
    # as Python rounds them (±0.5 ms each), and the call happened between the page's two
    # performance.now() readings around it (which a loaded machine may set apart).
    assert boot["expectedStartMs"] - 1 <= boot["startedAtMs"] <= boot["returnedMs"] + 1
    assert boot["isCurrent"]
    assert boot["second"] == {
        "name": "ActivityAlreadyRunningError",
        "message": f"activity '{LESSON['id']}' (runId {before['runId']}) is still running; "
        "end() it before starting another",
        "isError": True,
    }
    # The estimate while booting counts from the call to start().
    boot_span = boot["endCalledAt"] - boot["calledAt"]
    assert 0 < boot["activeBeforeEnd"] <= boot_span + 1

    assert page.evaluate("boot.ended") == "resolved"
    after = page.evaluate(
        """() => ({runId: activity.runId, startedAtMs: activity.startedAt.getTime(),
                  isEnded: activity.isEnded, current: timeback.activity.current})"""
    )
    # Python took the page's runId and the call's time.
    assert after["runId"] == before["runId"]
    assert after["startedAtMs"] == boot["startedAtMs"]  # it does not move when Python takes over
    assert after["isEnded"] is True
    assert after["current"] is None

    (window,) = recorder.wait_for(HEARTBEAT)
    body = window.json()
    assert body["runId"] == before["runId"]
    assert body["id"] == LESSON["id"]
    assert iso_ms(body["startedAt"]) == boot["startedAtMs"]
    assert errors(console) == []


def test_end_during_boot_closes_the_window_at_its_call_time(
    page: Page, site: LiveSite, recorder: Recorder
) -> None:
    on_dom_ready(
        page,
        """
        window.boot = {startBefore: performance.now()};
        const activity = timeback.activity.start(LESSON);
        boot.startAfter = performance.now();
        setTimeout(() => {
            boot.booting = performance.getEntriesByName("timeback:ready").length === 0;
            boot.endBefore = performance.now();
            boot.ended = activity.end();
            boot.endAfter = performance.now();
        }, 300);
        """,
        LESSON=LESSON,
    )
    page.goto(f"{site.url}/embed.html")
    assert wait_ready(page) is None
    page.evaluate("boot.ended")

    boot = page.evaluate("boot")
    assert boot["booting"], "end() must be called while booting"
    (window,) = recorder.wait_for(HEARTBEAT)
    body = window.json()
    # B1: the window ends at the end() call, not when Python replayed it seconds later.
    # Each call's instant lies between the page's readings around it (a call can take a
    # few ms on a loaded machine), so the true span lies between these two; 2 ms is the
    # tracker's precision on top.
    shortest = boot["endBefore"] - boot["startAfter"]
    longest = boot["endAfter"] - boot["startBefore"]
    assert shortest - 2 <= body["elapsedMs"] + body["pausedMs"] <= longest + 2, boot


def test_pause_during_boot_is_replayed_at_its_time(
    page: Page, site: LiveSite, recorder: Recorder
) -> None:
    on_dom_ready(
        page,
        """
        const activity = timeback.activity.start(LESSON);
        window.activity = activity;
        window.boot = {startedAt: performance.now()};
        setTimeout(() => {
            activity.pause();
            boot.pausedAt = performance.now();
            boot.isPaused = activity.isPaused;
            boot.booting = performance.getEntriesByName("timeback:ready").length === 0;
        }, 200);
        """,
        LESSON=LESSON,
    )
    page.goto(f"{site.url}/embed.html")
    assert wait_ready(page) is None

    boot = page.evaluate("boot")
    assert boot["booting"] and boot["isPaused"] is True
    assert page.evaluate("activity.isPaused") is True
    (window,) = recorder.wait_for(HEARTBEAT)  # pause() flushes the window
    span = boot["pausedAt"] - boot["startedAt"]
    assert abs(window.json()["elapsedMs"] - span) <= 2
    assert window.json()["pausedMs"] == 0


def test_python_errors_are_js_errors_with_name_message_and_field(
    page: Page, site: LiveSite
) -> None:
    page.goto(f"{site.url}/embed.html")
    assert wait_ready(page) is None

    thrown = page.evaluate(
        """([lesson, reading]) => {
            const attempt = (params) => {
                try {
                    timeback.activity.start(params);
                    return null;
                } catch (error) {
                    return {isError: error instanceof Error, name: error.name,
                            message: error.message, field: error.field ?? null};
                }
            };
            const unknown = attempt({...lesson, course: {subject: "Math", grade: 9}});
            const invalid = attempt({id: "x", course: lesson.course});
            const first = timeback.activity.start(lesson);
            const running = attempt(reading);
            return {unknown, invalid, running, current: timeback.activity.current === first};
        }""",
        [LESSON, READING],
    )
    unknown = thrown["unknown"]
    assert unknown["isError"] and unknown["name"] == "UnknownCourseError"
    assert unknown["field"] == "course"
    assert unknown["message"] == "course: no course Math G9 in timeback.config.json"
    invalid = thrown["invalid"]
    assert invalid["isError"] and invalid["name"] == "TrackerValidationError"
    assert invalid["field"] == "name"
    assert thrown["running"]["name"] == "ActivityAlreadyRunningError"
    assert thrown["current"] is True
    for error in (unknown, invalid, thrown["running"]):
        assert "Traceback" not in error["message"]


def test_unknown_course_during_boot_reaches_on_error(
    page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    on_dom_ready(
        page,
        """
        window.seen = [];
        window.activity = timeback.activity.start({
            ...LESSON,
            course: {code: "NOPE-1"},
            onError: (error, context) => seen.push({name: error.name, message: error.message,
                                                   field: error.field, type: context.type,
                                                   runId: context.runId}),
        });
        window.ended = activity.end().then(() => "resolved", (e) => e.name);
        """,
        LESSON=LESSON,
    )
    page.goto(f"{site.url}/embed.html")
    assert wait_ready(page) is None

    seen = page.evaluate("seen")
    assert len(seen) == 1
    assert seen[0]["name"] == "UnknownCourseError"
    assert seen[0]["field"] == "course"
    assert seen[0]["message"] == "course: no course NOPE-1 in timeback.config.json"
    assert seen[0]["runId"] == page.evaluate("activity.runId")
    assert page.evaluate("ended") == "UnknownCourseError"
    assert page.evaluate("timeback.activity.current") is None
    # The page can start a valid activity afterwards.
    started = page.evaluate("(reading) => timeback.activity.start(reading).id", READING)
    assert started == READING["id"]
    assert recorder.of(HEARTBEAT) == []
    logged = [text for text in errors(console) if "could not start" in text]
    assert len(logged) == 1


def test_callbacks_are_called_with_js_values(
    page: Page, site: LiveSite, recorder: Recorder
) -> None:
    page.goto(f"{site.url}/embed.html")
    assert wait_ready(page) is None

    calls = page.evaluate(
        """async (lesson) => {
            const calls = [];
            const activity = timeback.activity.start({
                ...lesson,
                onPause: () => calls.push(["pause"]),
                onResume: () => calls.push(["resume"]),
                onFlush: (ms) => calls.push(["flush", typeof ms, ms]),
            });
            await new Promise((resolve) => setTimeout(resolve, 150));
            await activity.flushTimeSpent();
            activity.pause();
            activity.resume();
            await activity.end();
            return calls;
        }""",
        LESSON,
    )
    kinds = [call[0] for call in calls]
    assert kinds[:1] == ["flush"] and "pause" in kinds and "resume" in kinds
    first_flush = calls[0]
    assert first_flush[1] == "number" and first_flush[2] >= 150
    windows = recorder.wait_for(HEARTBEAT)
    assert windows[0].json()["elapsedMs"] == first_flush[2]


def test_javascript_null_means_none_at_every_depth(
    page: Page, site: LiveSite, recorder: Recorder
) -> None:
    """Pyodide turns ``null`` into ``jsnull``; the reference uses it as a value
    (``hiddenTimeoutMs: null`` disables the timeout, optional fields may be null)."""
    page.goto(f"{site.url}/embed.html")
    assert wait_ready(page) is None
    result = page.evaluate(
        """async (lesson) => {
            const activity = timeback.activity.start({
                ...lesson, runId: null, onPause: null,
                time: {hiddenTimeoutMs: null, flushIntervalMs: 15000},
            });
            await activity.end({xpEarned: 2, pctComplete: null, masteredUnits: null});
            // Ended: properties keep their values, methods are no-ops, Python let go.
            activity.pause();
            await activity.flushTimeSpent();
            await activity.end({xpEarned: 2});
            const afterEnd = [activity.isEnded, typeof activity.totalActiveMs,
                              timeback.activity.current];
            const defaults = timeback.activity.start({...lesson, time: null});
            const timeOn = defaults.runId !== undefined;
            await defaults.end();
            return {ended: activity.isEnded, runId: activity.runId, timeOn, afterEnd};
        }""",
        LESSON,
    )
    assert result["ended"] is True and result["timeOn"] is True
    assert result["afterEnd"] == [True, "number", None]
    (submit,) = recorder.wait_for("/activity/submit")
    body = submit.json()
    assert body["metrics"] == {"xpEarned": 2}
    assert "pctComplete" not in body
    assert body["runId"] == result["runId"]
