"""Time tracking under Playwright's fake clock: heartbeats, hidden tabs and the time options.

Every scenario is a scripted timeline: the clock is stopped after boot and moved only by
``advance`` (``page.clock.run_for`` in steps, each answer awaited), so every window is
known to the millisecond and the bodies the
recorder received are compared whole. The fake clock also fakes ``Event.timeStamp``, so the
``visibilitychange`` events of ``set_visibility`` carry the fake time (T2). Each test ends
the activity: ``end()`` resolves only after every earlier send (W6), so the recorder's log
is then complete and "no other heartbeat" is an exact list comparison, not a wait.
"""

from __future__ import annotations

from playwright.sync_api import Page

from tracker.timefmt import whole_ms

from .helpers import (
    ACTIVITY_STATE,
    END_ACTIVITY,
    HEARTBEAT,
    LESSON,
    LOGGED_START,
    SUBMIT,
    advance,
    assert_active_total,
    assert_windows_add_up,
    bodies,
    boot_with_fake_clock,
    lifecycle_listeners,
    page_errors,
    pause_changes,
    run_at_dom_ready,
    set_visibility,
    start_logged,
    stored_windows,
    window_body,
)
from .recorder import Recorder
from .site import LiveSite


def test_heartbeats_every_flush_interval_with_exact_elapsed_and_paused_ms(
    page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    """W5 (every flushIntervalMs from the window's start, no drift), W1 (windows tile; a
    pause() leaves a gap), W2, W7 (elapsedMs/totalActiveMs), T3 (ISO times from the clock).
    First the default 15 s interval, then a custom 4 s one with pause()/resume()."""
    boot_with_fake_clock(page, f"{site.url}/embed.html")
    run_id, s = start_logged(page)  # s: startedAt, epoch ms; every window is relative to it
    advance(page, 52_000)
    assert page.evaluate(ACTIVITY_STATE) == {
        "elapsedMs": 7_000,  # the open window only (W7)
        "totalActiveMs": 52_000,
        "isPaused": False,
        "isEnded": False,
    }
    assert page.evaluate(END_ACTIVITY, None) is True

    windows = bodies(recorder.wait_for(HEARTBEAT, count=4))
    assert windows == [
        window_body(LESSON, run_id, s, s + 15_000, 15_000, 0),
        window_body(LESSON, run_id, s + 15_000, s + 30_000, 15_000, 0),
        window_body(LESSON, run_id, s + 30_000, s + 45_000, 15_000, 0),
        window_body(LESSON, run_id, s + 45_000, s + 52_000, 7_000, 0),  # end() (W5)
    ]
    assert_active_total(windows, 52_000)
    assert page.evaluate("flushes") == [15_000, 15_000, 15_000, 7_000]  # onFlush, in order
    assert page.evaluate("[changes, failures]") == [[], []]

    # A custom interval, and pause()/resume(): a pause flushes, the paused stretch is in
    # no window (W1), resume() opens a fresh window whose interval counts from the resume.
    recorder.clear()
    t1 = page.evaluate("performance.now()")
    run_id, s = start_logged(page, {"flushIntervalMs": 4_000})
    advance(page, 6_000)
    page.evaluate("activity.pause()")
    paused = page.evaluate(ACTIVITY_STATE)
    advance(page, 5_000)
    assert (
        page.evaluate(ACTIVITY_STATE)
        == paused
        == {
            "elapsedMs": 0,
            "totalActiveMs": 6_000,
            "isPaused": True,
            "isEnded": False,
        }
    )
    page.evaluate("activity.resume()")
    advance(page, 9_000)
    assert page.evaluate(END_ACTIVITY, None) is True

    windows = bodies(recorder.wait_for(HEARTBEAT, count=5))
    assert windows == [
        window_body(LESSON, run_id, s, s + 4_000, 4_000, 0),
        window_body(LESSON, run_id, s + 4_000, s + 6_000, 2_000, 0),  # pause() (W5)
        window_body(LESSON, run_id, s + 11_000, s + 15_000, 4_000, 0),  # from the resume
        window_body(LESSON, run_id, s + 15_000, s + 19_000, 4_000, 0),
        window_body(LESSON, run_id, s + 19_000, s + 20_000, 1_000, 0),  # end()
    ]
    assert_windows_add_up(windows)
    assert_active_total(windows, 6_000 + 9_000)
    assert pause_changes(page, t1) == [("pause", 6_000), ("resume", 11_000)]
    assert page.evaluate("flushes") == [4_000, 2_000, 4_000, 4_000, 1_000]
    assert recorder.of(SUBMIT) == []  # end() without data sends no completion
    assert page_errors(console) == []


def test_hidden_tab_flushes_at_the_hide_and_counts_hidden_time_as_paused(
    page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    """W5 (flush on hidden), W3 (no active time while hidden: it is pausedMs of the window
    it falls in), T2 (the boundary sits at the event's time), and the decision that the
    interval does not run while hidden: a window that outlived flushIntervalMs while hidden
    is closed at the visibility change that ends the hidden stretch."""
    t0 = boot_with_fake_clock(page, f"{site.url}/embed.html")
    run_id, s = start_logged(page)

    advance(page, 3_000)
    set_visibility(page, "hidden")  # t = 3 s: flush at the hide
    assert page.evaluate(ACTIVITY_STATE)["totalActiveMs"] == 3_000
    advance(page, 5_000)
    assert page.evaluate(ACTIVITY_STATE)["totalActiveMs"] == 3_000  # hidden: nothing accrues
    set_visibility(page, "visible")  # t = 8 s: back within the interval, same window
    advance(page, 10_000)  # t = 18 s: the interval, counted from the window's start
    advance(page, 2_000)
    set_visibility(page, "hidden")  # t = 20 s
    advance(page, 120_000)  # two minutes hidden: no heartbeat while hidden
    assert page.evaluate(ACTIVITY_STATE) == {
        "elapsedMs": 0,
        "totalActiveMs": 15_000,
        "isPaused": False,
        "isEnded": False,
    }
    set_visibility(page, "visible")  # t = 140 s: the overdue window closes here
    advance(page, 4_000)
    assert page.evaluate(END_ACTIVITY, None) is True

    windows = bodies(recorder.wait_for(HEARTBEAT, count=5))
    assert windows == [
        window_body(LESSON, run_id, s, s + 3_000, 3_000, 0),  # hide flush
        window_body(LESSON, run_id, s + 3_000, s + 18_000, 10_000, 5_000),  # interval
        window_body(LESSON, run_id, s + 18_000, s + 20_000, 2_000, 0),  # hide flush
        window_body(LESSON, run_id, s + 20_000, s + 140_000, 0, 120_000),  # overdue
        window_body(LESSON, run_id, s + 140_000, s + 144_000, 4_000, 0),  # end()
    ]
    assert_windows_add_up(windows)
    assert_active_total(windows, 3_000 + 10_000 + 2_000 + 4_000)
    assert pause_changes(page, t0) == []  # hidden for less than hiddenTimeoutMs
    assert page.evaluate("flushes") == [3_000, 10_000, 2_000, 0, 4_000]
    assert page_errors(console) == []


def test_ten_minutes_hidden_pause_at_the_timeout_and_resume_in_a_fresh_window(
    page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    """H1 (the pause is at exactly hide + hiddenTimeoutMs, default 10 min, also when the
    timer fires late), H2 (hidden time
    before the timeout is pausedMs of the window that ends at the timeout; after it nothing
    is reported; onPause at the timeout; onResume and a fresh window at the visibility
    change), W1 (no window across the pause), W5 (the interval restarts from the resume)."""
    t0 = boot_with_fake_clock(page, f"{site.url}/embed.html")
    run_id, s = start_logged(page)

    advance(page, 5_000)
    set_visibility(page, "hidden")  # t = 5 s
    advance(page, 599_999)
    assert page.evaluate(ACTIVITY_STATE)["isPaused"] is False  # 1 ms before the timeout
    advance(page, 1)  # t = 605 s = hide + 10 min
    assert page.evaluate(ACTIVITY_STATE)["isPaused"] is True
    advance(page, 300_000)  # paused and hidden: no heartbeat, no time
    assert page.evaluate(ACTIVITY_STATE) == {
        "elapsedMs": 0,
        "totalActiveMs": 5_000,
        "isPaused": True,
        "isEnded": False,
    }
    set_visibility(page, "visible")  # t = 905 s
    assert page.evaluate(ACTIVITY_STATE)["isPaused"] is False
    advance(page, 17_000)
    assert page.evaluate(END_ACTIVITY, None) is True

    windows = bodies(recorder.wait_for(HEARTBEAT, count=4))
    assert windows == [
        window_body(LESSON, run_id, s, s + 5_000, 5_000, 0),  # hide flush
        window_body(LESSON, run_id, s + 5_000, s + 605_000, 0, 600_000),  # ends at timeout
        window_body(LESSON, run_id, s + 905_000, s + 920_000, 15_000, 0),  # fresh window
        window_body(LESSON, run_id, s + 920_000, s + 922_000, 2_000, 0),  # end()
    ]
    assert_windows_add_up(windows)
    assert_active_total(windows, 5_000 + 17_000)
    assert pause_changes(page, t0) == [("pause", 605_000), ("resume", 905_000)]
    assert page.evaluate("flushes") == [5_000, 0, 15_000, 2_000]

    # H1 when the timer fires late: the lid closed for 12 minutes (fast_forward fires a due
    # timer once, at the end of the jump). onPause comes late; the pause does not.
    recorder.clear()
    t1 = page.evaluate("performance.now()")
    run_id, s = start_logged(page)
    advance(page, 5_000)
    set_visibility(page, "hidden")  # t = 5 s
    page.wait_for_function("fetchesInFlight === 0")  # the hide flush, answered
    page.clock.fast_forward("12:00")  # t = 725 s
    set_visibility(page, "visible")
    advance(page, 3_000)
    assert page.evaluate(END_ACTIVITY, None) is True
    windows = bodies(recorder.wait_for(HEARTBEAT, count=3))
    assert windows == [
        window_body(LESSON, run_id, s, s + 5_000, 5_000, 0),
        window_body(LESSON, run_id, s + 5_000, s + 605_000, 0, 600_000),  # at hide + 10 min
        window_body(LESSON, run_id, s + 725_000, s + 728_000, 3_000, 0),
    ]
    assert_active_total(windows, 5_000 + 3_000)
    assert pause_changes(page, t1) == [("pause", 725_000), ("resume", 725_000)]
    assert page_errors(console) == []


def test_visibility_unaware_counts_hidden_time_and_time_false_sends_only_the_completion(
    page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    """H3: with visibilityAware false hidden time is active, there is no hide flush and no
    hidden timeout, and no visibility handler is registered; with time false there is no
    handler, no timer and no heartbeat at all (not on hide, not on exit), end(data) sends
    the completion only. Handlers are read with DevTools (DOMDebugger.getEventListeners)."""
    t0 = boot_with_fake_clock(page, f"{site.url}/embed.html")
    baseline = lifecycle_listeners(page)

    # The defaults for contrast: the three handlers, removed by end(). No time has passed,
    # so the final window is empty and not sent (W4).
    start_logged(page)
    added = sorted(set(lifecycle_listeners(page)) - set(baseline))
    assert added == ["document:visibilitychange", "window:pagehide", "window:pageshow"]
    assert page.evaluate(END_ACTIVITY, None) is True
    assert lifecycle_listeners(page) == baseline

    run_id, s = start_logged(page, {"visibilityAware": False, "flushIntervalMs": 60_000})
    added = sorted(set(lifecycle_listeners(page)) - set(baseline))
    assert added == ["window:pagehide", "window:pageshow"]  # no visibilitychange (H3)
    advance(page, 5_000)
    set_visibility(page, "hidden")  # t = 5 s: no flush
    advance(page, 660_000)  # t = 665 s: past the 10 min timeout, still counting
    assert page.evaluate(ACTIVITY_STATE) == {
        "elapsedMs": 5_000,
        "totalActiveMs": 665_000,
        "isPaused": False,
        "isEnded": False,
    }
    set_visibility(page, "visible")
    advance(page, 5_000)
    assert page.evaluate(END_ACTIVITY, None) is True
    assert lifecycle_listeners(page) == baseline  # removed at the end

    windows = bodies(recorder.wait_for(HEARTBEAT, count=12))
    assert windows == [  # the first is the 60 s interval: no flush at the hide
        *(
            window_body(LESSON, run_id, s + m * 60_000, s + (m + 1) * 60_000, 60_000, 0)
            for m in range(11)
        ),
        window_body(LESSON, run_id, s + 660_000, s + 670_000, 10_000, 0),
    ]
    assert_active_total(windows, 670_000)
    assert pause_changes(page, t0) == []  # no hidden timeout either

    # time: false. Nothing but the completion, whatever the page does.
    recorder.clear()
    baseline = lifecycle_listeners(page)
    run_id, s = start_logged(page, False)
    assert lifecycle_listeners(page) == baseline  # not a single handler (H3)
    advance(page, 20_000)
    set_visibility(page, "hidden")
    advance(page, 660_000)
    set_visibility(page, "visible")
    advance(page, 20_000)
    page.evaluate("activity.flushTimeSpent()")  # a no-op without time tracking
    assert page.evaluate(ACTIVITY_STATE) == {
        "elapsedMs": 0,
        "totalActiveMs": 0,
        "isPaused": False,
        "isEnded": False,
    }
    assert page.evaluate(END_ACTIVITY, {"xpEarned": 5}) is True
    (submit,) = recorder.wait_for(SUBMIT)
    assert submit.json() == {
        "id": LESSON["id"],
        "name": LESSON["name"],
        "course": LESSON["course"],
        "runId": run_id,
        "endedAt": window_body(LESSON, run_id, s, s + 700_000, 0, 0)["endedAt"],
        "metrics": {"xpEarned": 5},
        "process": True,
    }

    # ...and leaving the page sends nothing and stores nothing for later (P1, P3).
    start_logged(page, False)
    page.goto(f"{site.url}/blank.html")
    assert stored_windows(page) == []
    page.evaluate("fetch('/api/timeback/after-exit', {method: 'POST'})")
    recorder.wait_for("/after-exit")  # anything sent at the exit was sent before this
    assert [request.route for request in recorder.requests] == [SUBMIT, "/after-exit"]
    assert page_errors(console) == []


def test_start_while_booting_counts_from_the_call_and_keeps_its_interval(
    page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    """B1: start() at DOMContentLoaded, seconds before Python runs: the run starts at the
    call, and W5: the first heartbeat is due flushIntervalMs after the call, not after the
    boot; all the time since the call (visible throughout) is counted once."""
    run_at_dom_ready(
        page,
        f"window.calledAt = performance.now(); window.started = ({LOGGED_START})([LESSON]);",
        LESSON=LESSON,
    )
    t = boot_with_fake_clock(page, f"{site.url}/embed.html")
    called_at: float = page.evaluate("calledAt")  # read just before the call
    run_id, s = page.evaluate("[activity.runId, activity.startedAt.getTime()]")  # Python's
    assert run_id == page.evaluate("started.runId")
    started = s - whole_ms(page.evaluate("performance.timeOrigin"))  # performance.now() ms
    assert abs(started - called_at) <= 2  # the run starts at the call (B1)
    since_call = t - started  # the boot, plus the wait for a whole second
    assert 0 < since_call < 15_000

    advance(page, 25_000 - since_call)  # to 25 s after the call
    assert page.evaluate(END_ACTIVITY, None) is True
    windows = bodies(recorder.wait_for(HEARTBEAT, count=2))
    assert windows == [
        window_body(LESSON, run_id, s, s + 15_000, 15_000, 0),
        window_body(LESSON, run_id, s + 15_000, s + 25_000, 10_000, 0),
    ]
    assert_active_total(windows, 25_000)
    assert page_errors(console) == []
