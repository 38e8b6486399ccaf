"""The pure time engine, rule by rule (time-model.md): timestamps in, effects out, no fakes."""

from __future__ import annotations

import itertools

from tracker.engine import (
    Effect,
    FlushReason,
    PauseChanged,
    SendWindow,
    TimeEngine,
    Window,
)
from tracker.models import TimeOptions

MIN = 60_000


def windows(effects: list[Effect]) -> list[Window]:
    return [e.window for e in effects if isinstance(e, SendWindow)]


def pauses(effects: list[Effect]) -> list[PauseChanged]:
    return [e for e in effects if isinstance(e, PauseChanged)]


def engine(**options: object) -> TimeEngine:
    return TimeEngine(TimeOptions.model_validate(options), 0)


def test_w5_interval_flush_from_window_start_without_drift() -> None:
    """W5: a window every flushIntervalMs, measured from the window's start."""
    e = engine(flushIntervalMs=15_000)
    assert e.next_deadline() == 15_000
    out = windows(e.tick(15_000))
    assert out == [Window(0, 15_000, 15_000, 0, FlushReason.INTERVAL)]
    # A timer that fires 700 ms late still closes the next window at 30 000 (no drift).
    out = windows(e.tick(30_700))
    assert [(w.started, w.ended) for w in out] == [(15_000, 30_000)]
    assert e.next_deadline() == 45_000


def test_w5_late_timer_catches_up_every_missed_interval() -> None:
    """H1/W5: a timer that fires after several intervals closes each window at its deadline."""
    e = engine(flushIntervalMs=10_000)
    out = windows(e.tick(35_000))
    assert [(w.started, w.ended, w.active_ms) for w in out] == [
        (0, 10_000, 10_000),
        (10_000, 20_000, 10_000),
        (20_000, 30_000, 10_000),
    ]
    assert e.elapsed_ms(35_000) == 5_000


def test_w1_windows_tile_time_across_flushes() -> None:
    """W1: each window's end is the next one's start, except across a pause."""
    e = engine()
    out = windows(e.tick(15_000)) + windows(e.flush(20_000)) + windows(e.tick(35_000))
    for before, after in itertools.pairwise(out):
        assert before.ended == after.started


def test_w1_after_pause_the_next_window_opens_at_resume() -> None:
    e = engine()
    first = windows(e.pause(4_000))
    assert first == [Window(0, 4_000, 4_000, 0, FlushReason.PAUSE)]
    assert e.tick(60_000) == []  # W5: no heartbeats while paused
    e.resume(70_000)
    assert e.window_start == 70_000
    assert windows(e.tick(85_000)) == [Window(70_000, 85_000, 15_000, 0, FlushReason.INTERVAL)]


def test_w2_active_plus_paused_equals_window_length() -> None:
    e = engine(flushOnVisibilityHidden=False)
    e.visibility(True, 3_000)
    e.visibility(False, 7_500)
    (w,) = windows(e.tick(15_000))
    assert w.active_ms + w.paused_ms == w.ended - w.started
    assert (w.active_ms, w.paused_ms) == (10_500, 4_500)


def test_w3_hidden_time_is_paused_time_when_visibility_aware() -> None:
    """W3: active only while not paused and visible."""
    e = engine(flushOnVisibilityHidden=False)
    e.visibility(True, 5_000)
    assert e.elapsed_ms(9_000) == 5_000
    e.visibility(False, 9_000)
    assert e.elapsed_ms(10_000) == 6_000


def test_w4_empty_window_is_not_sent() -> None:
    e = engine()
    assert windows(e.flush(0)) == []
    e.tick(15_000)
    assert windows(e.flush(15_000)) == []  # the window opened at 15 000 is still empty


def test_w5_flush_on_hidden_closes_the_window_at_the_event_time() -> None:
    e = engine()
    out = windows(e.visibility(True, 6_000))
    assert out == [Window(0, 6_000, 6_000, 0, FlushReason.HIDDEN)]


def test_w5_no_flush_on_hidden_when_disabled() -> None:
    e = engine(flushOnVisibilityHidden=False)
    assert windows(e.visibility(True, 6_000)) == []


def test_w7_elapsed_resets_after_flush_total_keeps_counting() -> None:
    e = engine()
    assert e.elapsed_ms(5_000) == 5_000
    e.flush(5_000)
    assert e.elapsed_ms(5_000) == 0
    assert e.total_active_ms(8_000) == 8_000
    assert e.elapsed_ms(8_000) == 3_000


def test_interval_does_not_run_while_hidden_one_window_until_return() -> None:
    """H2: hidden time is one window; on return an overdue window is closed at the change."""
    e = engine()
    e.visibility(True, 5_000)  # window [0, 5000] sent, [5000, ...) hidden
    assert e.next_deadline() == 5_000 + 10 * MIN  # only the hidden timeout
    out = windows(e.visibility(False, 65_000))
    assert out == [Window(5_000, 65_000, 0, 60_000, FlushReason.OVERDUE)]
    assert e.next_deadline() == 80_000


def test_short_hide_stays_in_the_same_window() -> None:
    e = engine()
    e.visibility(True, 5_000)
    assert windows(e.visibility(False, 8_000)) == []
    (w,) = windows(e.tick(20_000))
    assert (w.started, w.ended, w.active_ms, w.paused_ms) == (5_000, 20_000, 12_000, 3_000)


def test_h1_hidden_timeout_pauses_at_exactly_hide_plus_timeout_even_when_timer_is_late() -> None:
    e = engine()
    e.visibility(True, 10_000)
    # Chromium throttles hidden timers: the tick comes 47 s after the deadline.
    effects = e.tick(10_000 + 10 * MIN + 47_000)
    assert windows(effects) == [
        Window(10_000, 10_000 + 10 * MIN, 0, 10 * MIN, FlushReason.HIDDEN_TIMEOUT)
    ]
    assert pauses(effects) == [PauseChanged(paused=True, at=10_000 + 10 * MIN, automatic=True)]
    assert e.is_paused


def test_h1_tab_visible_after_the_deadline_before_the_timer_still_pauses_at_the_deadline() -> None:
    e = engine()
    e.visibility(True, 0)
    effects = e.visibility(False, 25 * MIN)
    assert windows(effects) == [Window(0, 10 * MIN, 0, 10 * MIN, FlushReason.HIDDEN_TIMEOUT)]
    assert pauses(effects) == [
        PauseChanged(paused=True, at=10 * MIN, automatic=True),
        PauseChanged(paused=False, at=25 * MIN, automatic=True),
    ]
    assert e.window_start == 25 * MIN


def test_h2_time_after_the_timeout_is_not_reported_and_resume_opens_a_fresh_window() -> None:
    e = engine()
    e.visibility(True, 1_000)
    e.tick(1_000 + 10 * MIN)
    assert e.tick(2 * 60 * MIN) == []
    effects = e.visibility(False, 2 * 60 * MIN)
    assert pauses(effects) == [PauseChanged(paused=False, at=2 * 60 * MIN, automatic=True)]
    assert not e.is_paused
    (w,) = windows(e.tick(2 * 60 * MIN + 15_000))
    assert (w.started, w.active_ms, w.paused_ms) == (2 * 60 * MIN, 15_000, 0)
    assert e.total_active_ms(2 * 60 * MIN + 15_000) == 1_000 + 15_000


def test_h2_hidden_timeout_with_no_flush_on_hidden_keeps_active_part_in_that_window() -> None:
    e = engine(flushOnVisibilityHidden=False)
    e.visibility(True, 4_000)
    (w,) = windows(e.tick(4_000 + 10 * MIN))
    assert (w.started, w.ended, w.active_ms, w.paused_ms) == (0, 4_000 + 10 * MIN, 4_000, 10 * MIN)


def test_hidden_timeout_disabled_with_none() -> None:
    e = engine(hiddenTimeoutMs=None)
    e.visibility(True, 0)
    assert e.next_deadline() is None
    assert e.tick(5 * 60 * MIN) == []
    assert not e.is_paused


def test_h3_visibility_aware_false_counts_hidden_time_as_active() -> None:
    e = engine(visibilityAware=False)
    assert windows(e.visibility(True, 1_000)) == []
    assert e.elapsed_ms(9_000) == 9_000
    assert not e.is_hidden


def test_explicit_pause_is_not_undone_by_visibility() -> None:
    e = engine()
    e.pause(1_000)
    e.visibility(True, 2_000)
    assert e.visibility(False, 3_000) == []
    assert e.is_paused


def test_pause_after_hidden_timeout_makes_it_stick() -> None:
    e = engine()
    e.visibility(True, 0)
    e.tick(10 * MIN)
    assert e.pause(11 * MIN) == []  # already paused: nothing to flush, no second onPause
    assert e.visibility(False, 12 * MIN) == []
    assert e.is_paused
    assert pauses(e.resume(13 * MIN)) == [PauseChanged(paused=False, at=13 * MIN, automatic=False)]


def test_resume_while_hidden_restarts_the_timeout_from_the_resume() -> None:
    e = engine()
    e.visibility(True, 0)
    e.tick(10 * MIN)
    e.resume(20 * MIN)
    assert e.next_deadline() == 30 * MIN
    assert e.elapsed_ms(25 * MIN) == 0


def test_resume_when_running_is_a_no_op() -> None:
    e = engine()
    assert e.resume(1_000) == []
    assert e.window_start == 0


def test_t2_event_placed_before_last_processed_time_is_clamped() -> None:
    """T2: events carry their own time; one older than what the engine already processed
    (a handler that ran after a timer) is placed at that moment, never in the past."""
    e = engine()
    e.tick(15_000)
    out = windows(e.visibility(True, 14_000))
    assert out == []  # the window opened at 15 000 is empty at 15 000
    assert e.now == 15_000


def test_p1_page_hide_closes_the_window_for_a_beacon() -> None:
    e = engine()
    effects = e.page_hide(7_000)
    assert effects == [SendWindow(Window(0, 7_000, 7_000, 0, FlushReason.PAGE_HIDE), beacon=True)]
    assert e.next_deadline() is None  # frozen: no timer while the page is away


def test_p2_back_forward_cache_time_is_not_counted() -> None:
    e = engine()
    e.page_hide(7_000)
    e.visibility(True, 7_001)  # Chromium: pagehide, then hidden
    e.visibility(False, 60_000)  # restore: visible, then pageshow
    assert windows(e.page_show(60_000)) == []
    assert e.window_start == 60_000
    (w,) = windows(e.tick(75_000))
    assert (w.started, w.active_ms, w.paused_ms) == (60_000, 15_000, 0)
    assert e.total_active_ms(75_000) == 22_000


def test_p2_without_flush_on_page_hide_the_held_window_is_sent_on_restore() -> None:
    e = engine(flushOnPageHide=False)
    assert e.page_hide(7_000) == []
    effects = e.page_show(90_000)
    assert windows(effects) == [Window(0, 7_000, 7_000, 0, FlushReason.RESTORED)]
    assert e.window_start == 90_000


def test_page_show_without_page_hide_is_ignored() -> None:
    e = engine()
    assert e.page_show(5_000) == []
    assert e.window_start == 0


def test_page_restored_while_paused_stays_paused() -> None:
    e = engine()
    e.pause(1_000)
    e.page_hide(2_000)
    assert e.page_show(3_000) == []
    assert e.is_paused and e.window_start is None


def test_page_restored_hidden_counts_the_hidden_timeout_from_the_restore() -> None:
    e = engine()
    e.page_hide(1_000)
    e.visibility(True, 1_001)
    e.page_show(5_000)
    assert e.next_deadline() == 5_000 + 10 * MIN


def test_restored_after_hidden_timeout_resumes_when_visible() -> None:
    e = engine()
    e.visibility(True, 0)
    e.tick(10 * MIN)
    e.page_hide(11 * MIN)
    e.visibility(False, 12 * MIN)
    effects = e.page_show(12 * MIN)
    assert pauses(effects) == [PauseChanged(paused=False, at=12 * MIN, automatic=True)]


def test_end_flushes_and_close_stops_everything() -> None:
    e = engine()
    assert windows(e.end(3_000)) == [Window(0, 3_000, 3_000, 0, FlushReason.END)]
    e.close()
    assert e.next_deadline() is None
    assert e.tick(60_000) == [] and e.pause(1) == [] and e.resume(2) == []
    assert e.flush(70_000) == [] and e.visibility(True, 80_000) == []
    assert e.page_hide(90_000) == [] and e.page_show(91_000) == []


def test_discard_open_window_drops_tracked_time() -> None:
    e = engine()
    e.discard_open_window(9_000)
    assert e.window_start == 9_000
    assert windows(e.flush(9_000)) == []


def test_started_hidden_counts_nothing_until_visible() -> None:
    e = TimeEngine(TimeOptions(), 0, hidden=True)
    assert e.next_deadline() == 10 * MIN
    e.visibility(False, 4_000)
    (w,) = windows(e.tick(15_000))
    assert (w.active_ms, w.paused_ms) == (11_000, 4_000)


def test_p2_restored_visible_after_a_hidden_exit_does_not_time_out() -> None:
    """Chromium: hidden, pagehide, then on restore visibilitychange (visible) before pageshow.
    The old hide must not pause the visible page 10 minutes after it."""
    e = engine()
    e.visibility(True, 1_000)
    e.page_hide(2_000)
    e.visibility(False, 500_000)
    e.page_show(500_000)
    assert e.next_deadline() == 515_000  # the interval, no hidden timeout
    assert pauses(e.tick(500_001)) == []
    assert not e.is_paused


def test_a_one_ms_hidden_timeout_is_a_real_deadline() -> None:
    e = engine(hiddenTimeoutMs=1)
    e.visibility(True, 0)
    assert e.next_deadline() == 1
