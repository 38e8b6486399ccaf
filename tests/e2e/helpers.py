"""Small helpers shared by the e2e tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import Page

from . import browser_config
from .recorder import RecordedRequest

MARKS = (
    "timeback:script-start",
    "timeback:runtime-loaded",
    "timeback:packages-loaded",
    "timeback:ready",
)
LESSON: dict[str, Any] = {
    "id": "fractions-with-like-denominators",
    "name": "Fractions with Like Denominators",
    "course": {"subject": "Math", "grade": 3},
}
READING: dict[str, Any] = {"id": "reading-1", "name": "Reading 1", "course": {"code": "READ-1"}}


def boot_timeout_ms() -> int:
    return int(browser_config.load().BOOT_TIMEOUT_MS)


def wait_ready(page: Page) -> str | None:
    """Awaits ``timeback.ready``; the error's "name: message" when it rejects, else None."""
    result: str | None = page.evaluate(
        """async (timeout) => {
            const deadline = new Promise((_, reject) =>
                setTimeout(() => reject(new Error(`not ready after ${timeout} ms`)), timeout));
            try {
                // After goto(wait_until="commit") the page may still be parsing: the embed's
                // <script> has not run yet, so wait for it to define timeback first.
                const defined = (async () => {
                    while (typeof window.timeback === "undefined") {
                        await new Promise((resolve) => setTimeout(resolve, 5));
                    }
                })();
                await Promise.race([defined, deadline]);
                await Promise.race([window.timeback.ready, deadline]);
                return null;
            } catch (error) {
                return `${error.name}: ${error.message}`;
            }
        }""",
        boot_timeout_ms(),
    )
    return result


def marks(page: Page) -> dict[str, float]:
    """The timeback:* performance marks, name -> ms since navigation start."""
    entries: list[list[Any]] = page.evaluate(
        """() => performance.getEntriesByType("mark")
              .filter((m) => m.name.startsWith("timeback:"))
              .map((m) => [m.name, m.startTime])"""
    )
    return {str(name): float(at) for name, at in entries}


def errors(console: list[tuple[str, str]]) -> list[str]:
    return [text for kind, text in console if kind in ("error", "pageerror")]


# ---- for the tracking tests (test_tracking_*.py) ----
HEARTBEAT = "/activity/heartbeat"
SUBMIT = "/activity/submit"
WINDOW_KEY_PREFIX = "timeback.window."
# True while Python is not ready yet (the embed marks timeback:ready when it is).
BOOTING = "performance.getEntriesByName('timeback:ready').length === 0"
LIFECYCLE_EVENTS = ("visibilitychange", "pagehide", "pageshow", "freeze", "resume")


def run_at_dom_ready(page: Page, body: str, **values: Any) -> None:
    """Runs ``body`` at DOMContentLoaded of every page load: timeback.js has run, Python is
    still booting. ``values`` become JSON constants of the same names."""
    constants = "".join(f"const {name} = {json.dumps(value)};\n" for name, value in values.items())
    page.add_init_script(
        f'document.addEventListener("DOMContentLoaded", () => {{\n{constants}{body}\n}});'
    )


def freeze_clock(page: Page) -> int:
    """After boot under ``page.clock.install()``: stops the fake clock on the next whole second
    and returns ``performance.now()``. From here only ``run_for`` moves time."""
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)
    now: float = page.evaluate("performance.now()")
    assert now == int(now), "the fake clock should stop on a whole millisecond"
    return int(now)


def set_visibility(page: Page, state: str) -> None:
    """Makes the document ``hidden``/``visible`` and fires ``visibilitychange``.

    This is our event, not the browser's (a page driven by ``chromium.launch()`` never
    becomes hidden): ``test_tracking_realtab.py`` does the same with real hidden tabs.
    Under the fake clock the event's ``timeStamp`` is the fake ``performance.now()``.
    """
    page.evaluate(
        """(state) => {
            Object.defineProperty(document, "visibilityState",
                                  {configurable: true, get: () => state});
            Object.defineProperty(document, "hidden",
                                  {configurable: true, get: () => state === "hidden"});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


def iso(epoch_ms: int) -> str:
    """wire §1 time format: ISO 8601 UTC with milliseconds."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def window_body(
    lesson: dict[str, Any], run_id: str, started: int, ended: int, active: int, paused: int
) -> dict[str, Any]:
    """The heartbeat body (wire §1) of a window from ``started`` to ``ended`` (epoch ms)."""
    return {
        "id": lesson["id"],
        "name": lesson["name"],
        "course": lesson["course"],
        "runId": run_id,
        "startedAt": iso(started),
        "endedAt": iso(ended),
        "elapsedMs": active,
        "pausedMs": paused,
    }


def bodies(requests: list[RecordedRequest]) -> list[dict[str, Any]]:
    return [request.json() for request in requests]


def counted_windows(requests: list[RecordedRequest]) -> list[dict[str, Any]]:
    """The heartbeats the server counted: accepted (2xx) and not a duplicate, in order."""
    return [request.json() for request in requests if request.status == 204]


def assert_active_total(windows: list[dict[str, Any]], visible_ms: float) -> None:
    """The active time the server counted equals the timeline's visible time (to 5 ms),
    each window once: a window is identified by runId + startedAt (wire §1)."""
    distinct = {(w["runId"], w["startedAt"]): w for w in windows}
    assert len(distinct) == len(windows), "a window was counted twice"
    total = sum(w["elapsedMs"] for w in distinct.values())
    assert abs(total - visible_ms) <= 5, f"server counted {total} ms active, timeline {visible_ms}"


def assert_windows_add_up(windows: list[dict[str, Any]]) -> None:
    """W2: elapsedMs + pausedMs == endedAt − startedAt, whole numbers ≥ 0 (wire §1)."""
    for window in windows:
        for key in ("elapsedMs", "pausedMs"):
            assert isinstance(window[key], int) and window[key] >= 0, window
        span = epoch_ms(window["endedAt"]) - epoch_ms(window["startedAt"])
        assert window["elapsedMs"] + window["pausedMs"] == span, window


def stored_windows(page: Page) -> list[str]:
    """Keys of the windows the tracker keeps in localStorage until acknowledged (P3)."""
    keys: list[str] = page.evaluate("() => Object.keys(localStorage)")
    return sorted(key for key in keys if key.startswith(WINDOW_KEY_PREFIX))


def lifecycle_listeners(page: Page) -> list[str]:
    """``target:type`` of every visibilitychange/pagehide/pageshow/freeze/resume listener on
    ``document`` and ``window``, as DevTools lists them (the page cannot see them itself)."""
    cdp = page.context.new_cdp_session(page)
    found: list[str] = []
    try:
        for target in ("document", "window"):
            handle = cdp.send("Runtime.evaluate", {"expression": target})["result"]
            request = {"objectId": handle["objectId"]}
            listeners = cdp.send("DOMDebugger.getEventListeners", request)["listeners"]
            found += [
                f"{target}:{listener['type']}"
                for listener in listeners
                if listener["type"] in LIFECYCLE_EVENTS
            ]
    finally:
        cdp.detach()
    return sorted(found)


# Starts an activity with its callbacks logged. onPause/onResume are called in the event
# that causes them, so their (fake) time is exact; onFlush comes with the server's answer,
# which arrives in real time while the fake clock may be anywhere: only its value counts.
LOGGED_START = """([lesson, time]) => {
    window.flushes = [];
    window.changes = [];
    window.failures = [];
    const at = (name) => () => changes.push([name, performance.now()]);
    window.activity = timeback.activity.start({
        ...lesson, ...(time == null ? {} : {time}),
        onFlush: (ms) => flushes.push(ms), onPause: at("pause"), onResume: at("resume"),
        onError: (error, context) => failures.push({isError: error instanceof Error,
            name: error.name, message: error.message, context}),
    });
    return {runId: activity.runId, startedAt: activity.startedAt.getTime()};
}"""
ACTIVITY_STATE = """() => ({elapsedMs: activity.elapsedMs, totalActiveMs: activity.totalActiveMs,
                   isPaused: activity.isPaused, isEnded: activity.isEnded})"""
END_ACTIVITY = "(data) => activity.end(data ?? undefined).then(() => activity.isEnded)"


# Counts the page's fetch() calls not yet settled (a pass-through wrapper).
FETCH_WATCH = """(() => {
    window.fetchesInFlight = 0;
    const fetch = window.fetch;
    window.fetch = function (...args) {
        fetchesInFlight += 1;
        const settled = () => { fetchesInFlight -= 1; };
        const pending = fetch.apply(this, args);
        pending.then(settled, settled);
        return pending;
    };
})();"""


def advance(page: Page, ms: int, step_ms: int = 20_000) -> None:
    """``page.clock.run_for(ms)`` in steps, waiting after each until no fetch is in flight.

    The tracker gives a request 30 s (``AbortSignal.timeout``, a fake timer too): one
    ``run_for`` past that while a request is on its way would abort it however fast the
    server answered, a time jump no real page sees. Timers still fire at their exact times.
    """
    assert page.evaluate("typeof window.fetchesInFlight") == "number", "FETCH_WATCH missing"
    left = ms
    while left > 0:
        step = min(step_ms, left)
        page.clock.run_for(step)
        page.wait_for_function("window.fetchesInFlight === 0")
        left -= step


def boot_with_fake_clock(page: Page, url: str) -> int:
    """Loads ``url`` under the fake clock, waits for boot, stops the clock: its time.
    Use ``advance()`` to move it."""
    page.clock.install()  # before goto: the page gets the fake timers from its first line
    page.add_init_script(FETCH_WATCH)
    page.goto(url)
    assert wait_ready(page) is None
    return freeze_clock(page)


def start_logged(
    page: Page, time: dict[str, Any] | bool | None = None, lesson: dict[str, Any] = LESSON
) -> tuple[str, int]:
    """``window.activity = timeback.activity.start(...)``: its runId and startedAt (epoch ms)."""
    started = page.evaluate(LOGGED_START, [lesson, time])
    return started["runId"], started["startedAt"]


def pause_changes(page: Page, t0: int) -> list[tuple[str, int]]:
    """onPause/onResume calls, with their time relative to ``t0`` (fake performance.now())."""
    return [(name, round(at - t0)) for name, at in page.evaluate("changes")]


def page_errors(console: list[tuple[str, str]]) -> list[str]:
    # A failed request is reported by Chromium itself; it is not the page's error.
    return [text for text in errors(console) if not text.startswith("Failed to load resource")]


def wait_store_empty(page: Page) -> None:
    """Stored windows are resent after boot, without ready() waiting for them (P3)."""
    page.wait_for_function(
        "Object.keys(localStorage).every((key) => !key.startsWith('timeback.window.'))"
    )
