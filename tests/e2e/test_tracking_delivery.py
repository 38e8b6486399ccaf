"""Delivery: completions (wire §1 submit), failures and retries (R1, R2), windows kept while
the server is down and delivered once after a reload (P3, W6)."""

from __future__ import annotations

import contextlib
from itertools import pairwise
from typing import Any

from playwright.sync_api import Page

from .helpers import (
    ACTIVITY_STATE,
    HEARTBEAT,
    LESSON,
    READING,
    SUBMIT,
    advance,
    assert_active_total,
    assert_windows_add_up,
    bodies,
    boot_with_fake_clock,
    counted_windows,
    epoch_ms,
    iso,
    page_errors,
    start_logged,
    stored_windows,
    wait_ready,
    wait_store_empty,
    window_body,
)
from .recorder import CLOSE, RecordedRequest, Recorder
from .site import LiveSite

# end(data) as the page awaits it: how the promise settled.
END_SETTLED = """(data) => activity.end(data).then(
    () => ({ok: true}),
    (error) => ({ok: false, isError: error instanceof Error, name: error.name,
                 message: error.message, status: error.status ?? null}))"""
COMPLETION = {
    "xpEarned": 80,
    "totalQuestions": 10,
    "correctQuestions": 8,
    "masteredUnits": 2,
    "pctComplete": 100,
}
INJECTED_503 = "HTTP 503 INTERNAL_ERROR: recorder: injected 503"


def routes(recorder: Recorder) -> list[tuple[str, int | None]]:
    return [(request.route, request.status) for request in recorder.requests]


def test_end_submits_the_exact_completion_and_a_failed_end_can_be_called_again(
    page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    """Reference: start() while an activity runs throws ActivityAlreadyRunningError; wire §1:
    end(data) flushes the last window (W5), then submits the completion with exactly these
    fields; R2: a failed completion calls onError with {type: 'completion', activityId,
    runId}, rejects, keeps the activity usable (decisions: a new window runs), and a second
    end() with the same data is the same attempt (same endedAt) and sets isEnded."""
    boot_with_fake_clock(page, f"{site.url}/embed.html")
    run_id, s = start_logged(page)
    thrown = page.evaluate(
        """(reading) => {
            try {
                timeback.activity.start(reading);
                return null;
            } catch (error) {
                return {isError: error instanceof Error, name: error.name,
                        message: error.message,
                        stillCurrent: timeback.activity.current === activity};
            }
        }""",
        READING,
    )
    assert thrown is not None
    assert LESSON["id"] in thrown.pop("message")
    assert thrown == {"isError": True, "name": "ActivityAlreadyRunningError", "stillCurrent": True}

    advance(page, 10_000)
    recorder.fail_next(SUBMIT, status=503)
    assert page.evaluate(END_SETTLED, COMPLETION) == {
        "ok": False,
        "isError": True,
        "name": "DeliveryError",
        "message": INJECTED_503,
        "status": 503,
    }
    assert page.evaluate("failures") == [
        {
            "isError": True,
            "name": "DeliveryError",
            "message": INJECTED_503,
            "context": {"type": "completion", "activityId": LESSON["id"], "runId": run_id},
        }
    ]
    assert page.evaluate(ACTIVITY_STATE) == {
        "elapsedMs": 0,
        "totalActiveMs": 10_000,
        "isPaused": False,
        "isEnded": False,
    }
    assert page.evaluate("timeback.activity.current === activity") is True

    advance(page, 3_000)  # still tracking
    assert page.evaluate(END_SETTLED, COMPLETION) == {"ok": True}
    assert page.evaluate("[activity.isEnded, timeback.activity.current]") == [True, None]
    assert len(page.evaluate("failures")) == 1

    recorder.wait_for(SUBMIT, count=2)
    assert routes(recorder) == [
        (HEARTBEAT, 204),  # end() flushes first (W5, W6)
        (SUBMIT, 503),
        (HEARTBEAT, 204),
        (SUBMIT, 204),
    ]
    expected = {
        "id": LESSON["id"],
        "name": LESSON["name"],
        "course": {"subject": "Math", "grade": 3},
        "runId": run_id,
        "endedAt": iso(s + 10_000),  # the first attempt's endedAt, kept by the retry
        "metrics": {
            "xpEarned": 80,
            "totalQuestions": 10,
            "correctQuestions": 8,
            "masteredUnits": 2,
        },
        "pctComplete": 100,
        "process": True,
    }
    failed, submitted = recorder.of(SUBMIT)
    assert submitted.json() == expected
    assert failed.body == submitted.body
    assert submitted.headers["content-type"] == "application/json"
    windows = bodies(recorder.of(HEARTBEAT))
    assert windows == [
        window_body(LESSON, run_id, s, s + 10_000, 10_000, 0),
        window_body(LESSON, run_id, s + 10_000, s + 13_000, 3_000, 0),
    ]
    assert_active_total(windows, 13_000)

    # Once ended, another activity may start: a course given by code, the least data.
    recorder.clear()
    run_id, s = start_logged(page, lesson=READING)
    advance(page, 1_000)
    assert page.evaluate(END_SETTLED, {"xpEarned": 1}) == {"ok": True}
    (submit,) = recorder.wait_for(SUBMIT)
    assert submit.json() == {
        "id": "reading-1",
        "name": "Reading 1",
        "course": {"code": "READ-1"},
        "runId": run_id,
        "endedAt": iso(s + 1_000),
        "metrics": {"xpEarned": 1},
        "process": True,
    }
    assert bodies(recorder.of(HEARTBEAT)) == [window_body(READING, run_id, s, s + 1_000, 1_000, 0)]
    assert page_errors(console) == []


def assert_spaced(attempts: list[RecordedRequest], delays_ms: list[int]) -> None:
    """R1: attempt i+1 reaches the server retryDelaysMs[i] after attempt i was answered
    (the page waits that long after it got the answer); 300 ms of slack for a busy machine."""
    gaps = [
        (later.received_at - earlier.answered_at) * 1000 for earlier, later in pairwise(attempts)
    ]
    assert len(gaps) == len(delays_ms)
    for gap, delay in zip(gaps, delays_ms, strict=True):
        assert delay - 2 <= gap <= delay + 300, f"gaps {gaps} ms, delays {delays_ms} ms"


def test_retry_attempts_resend_the_identical_window_after_each_delay(
    page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    """R1: retryAttempts retries, waiting retryDelaysMs[i] before retry i (the last value
    repeats), each with the identical body; onError only once the last attempt failed.
    P3: the window that could not be delivered is kept and goes out first with the next
    flush (W6). Retries apply to completions too (decisions). Real time: the spacing is
    read from the recorder's arrival and answer times."""
    page.goto(f"{site.url}/embed.html")
    assert wait_ready(page) is None
    time: dict[str, Any] = {
        "retryAttempts": 3,
        "retryDelaysMs": [50, 400],
        "flushIntervalMs": 60_000,  # no interval flush in the way
    }
    run_id, _ = start_logged(page, time)
    page.wait_for_function("activity.totalActiveMs > 0")

    # Fails three times, the fourth attempt is accepted: no onError.
    recorder.fail_next(HEARTBEAT, 3, status=503)
    page.evaluate("activity.flushTimeSpent()")
    attempts = recorder.wait_for(HEARTBEAT, count=4)
    assert [a.status for a in attempts] == [503, 503, 503, 204]
    assert len({a.body for a in attempts}) == 1
    assert_spaced(attempts, [50, 400, 400])
    delivered = attempts[0].json()
    assert page.evaluate("[failures, flushes]") == [[], [delivered["elapsedMs"]]]

    # Fails four times: retries exhausted, onError once, the window is kept (P3).
    recorder.fail_next(HEARTBEAT, 4, status=503)
    page.evaluate("activity.flushTimeSpent()")
    attempts = recorder.wait_for(HEARTBEAT, count=8)[4:]
    assert [a.status for a in attempts] == [503] * 4
    assert len({a.body for a in attempts}) == 1
    assert_spaced(attempts, [50, 400, 400])
    kept = attempts[0].json()
    assert kept["startedAt"] == delivered["endedAt"]  # the next window (W1)
    assert page.evaluate("failures") == [
        {
            "isError": True,
            "name": "DeliveryError",
            "message": INJECTED_503,
            "context": {"type": "timeSpent", "activityId": LESSON["id"], "runId": run_id},
        }
    ]
    assert stored_windows(page) == [f"timeback.window.{kept['startedAt']}.{run_id}"]
    assert page.evaluate(ACTIVITY_STATE)["isEnded"] is False  # tracking goes on (R2)

    # The next flush sends the kept window first, unchanged, then its own.
    page.evaluate("activity.flushTimeSpent()")
    kept_again, fresh = recorder.wait_for(HEARTBEAT, count=10)[8:]
    assert (kept_again.status, kept_again.body) == (204, attempts[0].body)
    assert fresh.status == 204 and fresh.json()["startedAt"] == kept["endedAt"]
    assert stored_windows(page) == []

    # A completion is retried with the same delays and the identical body; when every
    # attempt fails, end() rejects and onError hears of it once (R1, R2).
    recorder.fail_next(SUBMIT, 4, status=503)
    assert page.evaluate(END_SETTLED, {"xpEarned": 2})["ok"] is False
    submits = recorder.wait_for(SUBMIT, count=4)
    assert [a.status for a in submits] == [503] * 4
    assert len({a.body for a in submits}) == 1
    assert_spaced(submits, [50, 400, 400])
    failures = page.evaluate("failures")
    assert [f["context"]["type"] for f in failures] == ["timeSpent", "completion"]
    recorder.fail_next(SUBMIT, 2, status=503)
    assert page.evaluate(END_SETTLED, {"xpEarned": 2}) == {"ok": True}
    submits = recorder.wait_for(SUBMIT, count=7)[4:]
    assert [a.status for a in submits] == [503, 503, 204]
    # The same data: the same attempt, byte for byte (decisions: endedAt is kept).
    assert {a.body for a in submits} == {recorder.of(SUBMIT)[0].body}
    assert_spaced(submits, [50, 400])
    assert len(page.evaluate("failures")) == 2

    windows = counted_windows(recorder.of(HEARTBEAT))
    assert_windows_add_up(windows)
    starts = [epoch_ms(w["startedAt"]) for w in windows]
    ends = [epoch_ms(w["endedAt"]) for w in windows]
    assert starts[1:] == ends[:-1]  # every window counted once, tiling the run (W1)
    assert page_errors(console) == []


def test_windows_kept_while_the_server_is_down_arrive_once_after_a_reload(
    page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    """P3: while the server does not answer, every window is kept in localStorage; each
    flush tries the oldest first and stops (W6). The page is then reloaded with the server
    back: the exit beacon and the boot of the new page deliver everything; the server's
    dedupe on runId + startedAt makes the beacon's resend harmless, so every window is
    counted exactly once and the store ends empty."""
    boot_with_fake_clock(page, f"{site.url}/embed.html")
    run_id, s = start_logged(page)
    recorder.go_down(status=CLOSE)  # connections dropped without an answer
    advance(page, 45_000)  # three heartbeats due: none delivered
    page.wait_for_function("failures.length === 3")
    keys = [f"timeback.window.{iso(s + t)}.{run_id}" for t in (0, 15_000, 30_000)]
    assert stored_windows(page) == keys
    first = window_body(LESSON, run_id, s, s + 15_000, 15_000, 0)
    failed = recorder.of(HEARTBEAT)
    assert failed and all(r.status is None and r.json() == first for r in failed)
    assert {f["context"]["type"] for f in page.evaluate("failures")} == {"timeSpent"}

    advance(page, 2_000)
    recorder.come_back()
    page.reload(wait_until="commit")  # exit at t = 47 s under the stopped clock
    page.clock.resume()  # the new page boots on flowing (fake) time
    assert wait_ready(page) is None

    delivered = recorder.wait_for(lambda r: r.route == HEARTBEAT and r.status is not None, count=5)
    windows = [
        window_body(LESSON, run_id, s + start, s + end, end - start, 0)
        for start, end in ((0, 15_000), (15_000, 30_000), (30_000, 45_000), (45_000, 47_000))
    ]
    assert [(r.status, r.json()) for r in delivered] == [
        (204, windows[3]),  # the exit beacon
        (204, windows[0]),  # the new page's boot: oldest first
        (204, windows[1]),
        (204, windows[2]),
        (200, windows[3]),  # the beacon's window again: a duplicate for the server
    ]
    wait_store_empty(page)
    counted = counted_windows(recorder.of(HEARTBEAT))
    assert sorted(counted, key=lambda w: w["startedAt"]) == windows  # each once
    assert_active_total(counted, 47_000)
    assert page_errors(console) == []


def test_a_kept_window_resent_by_the_next_flush_gets_the_activitys_retries(
    page: Page, site: LiveSite, recorder: Recorder
) -> None:
    """R1 with P3: a window kept after its retries ran out goes out first with the next
    flush (W6); that send is a send of this activity and gets its retryAttempts too, and
    onError fires only after the last attempt failed. Here the kept window fails once more
    and its retry succeeds: both windows are delivered and onError is not called again."""
    page.goto(f"{site.url}/embed.html")
    assert wait_ready(page) is None
    time = {"retryAttempts": 2, "retryDelaysMs": [50], "flushIntervalMs": 60_000}
    run_id, _ = start_logged(page, time)
    page.wait_for_function("activity.totalActiveMs > 0")

    recorder.fail_next(HEARTBEAT, 3, status=503)  # the first attempt and both retries
    page.evaluate("activity.flushTimeSpent()")
    kept = recorder.wait_for(HEARTBEAT, count=3)
    assert [r.status for r in kept] == [503] * 3
    assert len(page.evaluate("failures")) == 1  # retries exhausted: reported once
    assert len(stored_windows(page)) == 1

    page.wait_for_function("activity.elapsedMs > 0")
    recorder.fail_next(HEARTBEAT, 1, status=503)  # one more failure: a retry heals it
    page.evaluate("activity.flushTimeSpent()")  # resolves once its window was attempted
    with contextlib.suppress(TimeoutError):  # the log may lag the page by a moment
        recorder.wait_for(HEARTBEAT, count=6, timeout=3)
    sent = recorder.of(HEARTBEAT)[3:]
    failures = page.evaluate("failures")
    assert [(r.status, r.body == kept[0].body) for r in sent] == [
        (503, True),  # the kept window, first in line
        (204, True),  # ...its retry, after retryDelaysMs
        (204, False),  # the new window
    ], f"onError calls: {failures}"
    assert sent[2].json()["startedAt"] == kept[0].json()["endedAt"]
    assert sent[2].json()["runId"] == run_id
    assert len(failures) == 1, failures
    wait_store_empty(page)
