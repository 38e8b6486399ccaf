"""Never blind during boot (B2, B3): the page's life before Python is ready is tracked.

Boot is made slow for sure by ``/variants/slow/`` (site.py holds ``pyodide.mjs`` back
``SLOW_BOOT_S``), with the page's main thread free meanwhile, as on a slow network. The
back/forward cache is entered with our own ``pagehide``/``pageshow`` events (``persisted``),
like ``set_visibility``: a page that is still fetching its runtime is not eligible for
Chromium's real cache, and the real cache is tested after boot in test_tracking_realtab.py.
"""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import Page

from tracker.timefmt import whole_ms

from .helpers import (
    BOOTING,
    HEARTBEAT,
    LESSON,
    assert_active_total,
    assert_windows_add_up,
    counted_windows,
    epoch_ms,
    iso,
    run_at_dom_ready,
    stored_windows,
    wait_ready,
    wait_store_empty,
)
from .recorder import Recorder
from .site import SLOW_BOOT_S, LiveSite

SLOW_PAGE = "/slow-boot.html"
# end() and the time it was called at: its window ends there.
END_AND_SAY_WHEN = (
    "(() => { const at = performance.now(); return activity.end().then(() => at); })()"
)
# The page's own timeline: when it called start() and when it saw pagehide (localStorage
# outlives the tab within the context, so the test can read it after the close).
START_AND_WATCH_EXIT = """
    window.boot = {calledAt: performance.now()};
    window.activity = timeback.activity.start({...LESSON, ...(TIME ? {time: TIME} : {})});
    boot.returnedAt = performance.now();
    addEventListener("pagehide", (event) => localStorage.setItem("exitAt", event.timeStamp));
"""


def no_more(recorder: Recorder, route: str, count: int, wait_s: float = 1.0) -> None:
    """Nothing beyond ``count`` requests of ``route`` arrives within ``wait_s``."""
    time.sleep(wait_s)
    seen = [
        (
            r.status,
            r.json().get("startedAt"),
            r.json().get("endedAt"),
            r.headers.get("x-tracker-replay"),
        )
        for r in recorder.of(route)
    ]
    assert len(seen) == count, seen


def start_while_booting(page: Page, site: LiveSite, time_options: Any = None) -> dict[str, Any]:
    run_at_dom_ready(page, START_AND_WATCH_EXIT, LESSON=LESSON, TIME=time_options)
    page.goto(f"{site.url}{SLOW_PAGE}")
    started: dict[str, Any] = page.evaluate(
        "() => ({calledAt: boot.calledAt, returnedAt: boot.returnedAt,"
        " origin: performance.timeOrigin, runId: activity.runId,"
        " startedAt: activity.startedAt.getTime()})"
    )
    return started


def test_b3_a_tab_closed_300_ms_after_start_delivers_that_time_by_beacon(
    page: Page, site: LiveSite, recorder: Recorder
) -> None:
    """B3/P1: the window from start() to pagehide leaves by beacon, as Python would send it;
    P3: it is stored under its identity, and the next load resends it, deduplicated."""
    started = start_while_booting(page, site)
    page.wait_for_function("performance.now() - boot.calledAt >= 300")
    assert page.evaluate(BOOTING), "the tab must close before Python is ready"
    context = page.context
    page.close()

    (window,) = recorder.wait_for(HEARTBEAT)
    no_more(recorder, HEARTBEAT, 1)
    body = window.json()
    reader = context.new_page()
    reader.goto(f"{site.url}/blank.html")
    exit_at = float(reader.evaluate("localStorage.getItem('exitAt')"))
    # The page's own timeline: start() and the pagehide it saw, each in whole ms (T3).
    assert body["startedAt"] == iso(started["startedAt"])
    # The instant of start() is between the page's readings around the call (a loaded
    # machine sets them apart by a fraction of a ms, enough to change a whole ms).
    origin = whole_ms(started["origin"])
    assert (
        origin + whole_ms(started["calledAt"])
        <= started["startedAt"]
        <= origin + whole_ms(started["returnedAt"])
    )
    # The window runs from start()'s instant (between calledAt and returnedAt: a loaded
    # machine sets those ms apart) to the pagehide's timeStamp; each end is a whole ms (T3).
    assert (
        exit_at - started["returnedAt"] - 1
        <= body["elapsedMs"]
        <= exit_at - started["calledAt"] + 1
    ), (body, exit_at, started)
    assert body["elapsedMs"] >= 300
    assert body["pausedMs"] == 0
    assert_windows_add_up([body])
    assert (body["runId"], body["id"], body["name"]) == (
        started["runId"],
        LESSON["id"],
        LESSON["name"],
    )
    assert window.status == 204
    # Kept as Python keeps a page-exit window (outbox key and record), so the next load
    # delivers it again (P3) and the server's dedupe counts it once.
    key = f"timeback.window.{body['startedAt']}.{started['runId']}"
    assert stored_windows(reader) == [key]
    reader.goto(f"{site.url}/embed.html")
    assert wait_ready(reader) is None
    _, resent = recorder.wait_for(HEARTBEAT, count=2)
    assert (resent.status, resent.body) == (200, window.body)
    wait_store_empty(reader)
    assert_active_total(counted_windows(recorder.of(HEARTBEAT)), body["elapsedMs"])


def enter_and_leave_the_cache(page: Page, stay_ms: int) -> dict[str, float]:
    """pagehide (persisted) + hidden, ``stay_ms`` in the cache, then visible + pageshow."""
    result: dict[str, float] = page.evaluate(
        """async (stay) => {
            const state = (value) => {
                Object.defineProperty(document, "visibilityState",
                                      {configurable: true, get: () => value});
                Object.defineProperty(document, "hidden",
                                      {configurable: true, get: () => value === "hidden"});
            };
            const hide = new PageTransitionEvent("pagehide", {persisted: true});
            dispatchEvent(hide);
            state("hidden");
            document.dispatchEvent(new Event("visibilitychange"));
            await new Promise((resolve) => setTimeout(resolve, stay));
            state("visible");
            document.dispatchEvent(new Event("visibilitychange"));
            const show = new PageTransitionEvent("pageshow", {persisted: true});
            dispatchEvent(show);
            return {hideAt: hide.timeStamp, showAt: show.timeStamp};
        }""",
        stay_ms,
    )
    return result


def test_p2_a_cache_stay_during_boot_is_in_no_window_and_nothing_is_counted_twice(
    page: Page, site: LiveSite, recorder: Recorder
) -> None:
    """B3 + P2: the boot window is beaconed at pagehide; back from the cache, Python begins a
    new window at pageshow; the stay is in no window; the beaconed window is resent under
    the same key only (deduplicated), never as new time."""
    started = start_while_booting(page, site)
    page.wait_for_function("performance.now() - boot.calledAt >= 300")
    cache = enter_and_leave_the_cache(page, 1_500)
    assert page.evaluate(BOOTING), "the cache stay must happen before Python is ready"
    (beacon,) = recorder.wait_for(HEARTBEAT)
    assert wait_ready(page) is None
    ended = page.evaluate(END_AND_SAY_WHEN)
    # Counted from what arrived, not from when end() resolved: on a fresh clone under load
    # the count taken at end()'s resolution once missed a heartbeat that came within the
    # next second (3 == 2; which one the truncated message did not say, and 12 loaded runs
    # did not repeat it). Python's own window must arrive; after it, nothing more; the
    # windows below still prove that nothing is counted twice.
    recorder.wait_for(
        lambda r: r.route == HEARTBEAT and r.json()["startedAt"] != beacon.json()["startedAt"]
    )
    no_more(recorder, HEARTBEAT, len(recorder.of(HEARTBEAT)))

    windows = counted_windows(recorder.of(HEARTBEAT))
    assert_windows_add_up(windows)
    origin = whole_ms(started["origin"])
    hide_at, show_at = origin + whole_ms(cache["hideAt"]), origin + whole_ms(cache["showAt"])
    first, second = sorted(windows, key=lambda w: w["startedAt"])
    assert first == beacon.json()
    assert (epoch_ms(first["startedAt"]), epoch_ms(first["endedAt"])) == (
        started["startedAt"],
        hide_at,
    )
    # Python's window begins at the pageshow: nothing of the stay is counted.
    assert epoch_ms(second["startedAt"]) == show_at
    # Python reads its own clock when the end() call reaches it, a few ms after the page's.
    assert 0 <= epoch_ms(second["endedAt"]) - (origin + whole_ms(ended)) <= 10
    for window in windows:
        assert epoch_ms(window["endedAt"]) <= hide_at or epoch_ms(window["startedAt"]) >= show_at
    visible = (hide_at - started["startedAt"]) + (epoch_ms(second["endedAt"]) - show_at)
    assert_active_total(windows, visible)
    # Every other request for the boot window was a resend of its key, answered duplicate.
    keys = [(r.json()["startedAt"], r.status) for r in recorder.of(HEARTBEAT)]
    assert next(status for at, status in keys if at == first["startedAt"]) == 204
    assert all(status == 200 for at, status in keys[1:] if at == first["startedAt"])


def test_p2_without_flush_on_page_hide_python_closes_the_held_boot_window_on_return(
    page: Page, site: LiveSite, recorder: Recorder
) -> None:
    """P2 with flushOnPageHide off: nothing is beaconed; the replayed pagehide and pageshow
    let Python close the held window at the pagehide and open the next at the pageshow."""
    started = start_while_booting(page, site, {"flushOnPageHide": False})
    page.wait_for_function("performance.now() - boot.calledAt >= 300")
    cache = enter_and_leave_the_cache(page, 1_000)
    assert page.evaluate(BOOTING)
    assert wait_ready(page) is None
    ended = page.evaluate(END_AND_SAY_WHEN)
    windows = [w.json() for w in recorder.wait_for(HEARTBEAT, count=2)]
    no_more(recorder, HEARTBEAT, 2)
    origin = whole_ms(started["origin"])
    assert [(epoch_ms(w["startedAt"]), epoch_ms(w["endedAt"])) for w in windows][:1] == [
        (started["startedAt"], origin + whole_ms(cache["hideAt"]))
    ]
    show_at = origin + whole_ms(cache["showAt"])
    assert epoch_ms(windows[1]["startedAt"]) == show_at
    assert 0 <= epoch_ms(windows[1]["endedAt"]) - (origin + whole_ms(ended)) <= 10
    visible = (origin + whole_ms(cache["hideAt"]) - started["startedAt"]) + (
        epoch_ms(windows[1]["endedAt"]) - show_at
    )
    assert_active_total(windows, visible)


def test_b1_end_during_a_boot_longer_than_the_interval_sends_one_window(
    page: Page, site: LiveSite, recorder: Recorder
) -> None:
    """The cause of the flake of test_end_during_boot_closes_the_window_at_its_call_time: the
    engine keeps a window open after end() (R2); the hand-over moved it to "now", and a
    boot that outlasted flushIntervalMs after the end() call flushed it as a second
    heartbeat. Here the interval is 1 s and boot takes SLOW_BOOT_S."""
    assert SLOW_BOOT_S > 1.5
    started = start_while_booting(page, site, {"flushIntervalMs": 1_000})
    page.wait_for_function("performance.now() - boot.calledAt >= 300")
    end_called, end_returned = page.evaluate(
        """(() => {
            const calledAt = performance.now();
            window.ending = activity.end();
            return [calledAt, performance.now()];
        })"""
    )
    assert page.evaluate(BOOTING)
    assert wait_ready(page) is None
    page.evaluate("ending")
    (window,) = recorder.wait_for(HEARTBEAT)
    no_more(recorder, HEARTBEAT, 1)
    body = window.json()
    # From start()'s instant to end()'s, each between the page's readings around its call.
    low = end_called - started["returnedAt"] - 1
    assert low <= body["elapsedMs"] <= end_returned - started["calledAt"] + 1, (body, started)


# The 100 ms target of issue 8 is a speed target: benchmarks/boot.py measures it, interleaved
# with the floor (click → answer median and max, and the longest task: docs/benchmarks.md).
# A timed test at 100 ms passes or fails with the machine's load, so this one guards what a
# test can: clicks during boot are answered, and none waits behind a multi-second task as
# it did before (2.6-4 s in one task).
BLOCKED_CLICK_MS = 1_000


def test_clicks_during_boot_are_answered_without_a_long_block(page: Page, site: LiveSite) -> None:
    """Issue 8: nothing blocks the page. Real input (CDP) during a real boot; the handler
    measures its delay from the event's timeStamp (when the browser took the click)."""
    page.add_init_script(
        """document.addEventListener("DOMContentLoaded", () => {
            window.clickDelays = [];
            document.getElementById("next").addEventListener("click", (event) => {
                const booting = performance.getEntriesByName("timeback:ready").length === 0;
                if (booting) clickDelays.push(performance.now() - event.timeStamp);
            });
        });"""
    )
    # The slow variant holds the runtime back SLOW_BOOT_S, so that a fast boot still leaves
    # clicks enough to judge; the clicks go on through the real boot after the hold.
    page.goto(f"{site.url}{SLOW_PAGE}", wait_until="domcontentloaded")
    box = page.locator("#next").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # Clicks go out on a steady beat, not only between the page's tasks: asking the page
    # whether it still boots would wait for its main thread, so that is asked rarely.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for _ in range(10):
            page.mouse.click(x, y)
            time.sleep(0.04)
        if not page.evaluate(BOOTING):
            break
    assert wait_ready(page) is None
    delays: list[float] = page.evaluate("clickDelays")
    assert len(delays) >= 3, "too few clicks landed during boot to say anything"
    assert max(delays) <= BLOCKED_CLICK_MS, f"clicks during boot waited up to {max(delays):.0f} ms"
