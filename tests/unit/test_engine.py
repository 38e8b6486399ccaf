"""The pure time engine, rule by rule (time-model.md): timestamps in, effects out, no fakes."""

from __future__ import annotations

import itertools

import pytest

from tracker.engine import (
    TRANSITIONS,
    ActivityState,
    Close,
    DiscardOpenWindow,
    Effect,
    End,
    Event,
    Flush,
    FlushReason,
    HiddenTimeoutDue,
    IntervalDue,
    PageHide,
    PageShow,
    PageState,
    Pause,
    PauseChanged,
    ProtocolError,
    Resume,
    SendWindow,
    Tick,
    TimeEngine,
    VisibilityChanged,
    Window,
    WindowState,
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
    out = windows(e.handle(Tick(15_000)))
    assert out == [Window(0, 15_000, 15_000, 0, FlushReason.INTERVAL)]
    # A timer that fires 700 ms late still closes the next window at 30 000 (no drift).
    out = windows(e.handle(Tick(30_700)))
    assert [(w.started, w.ended) for w in out] == [(15_000, 30_000)]
    assert e.next_deadline() == 45_000


def test_w5_late_timer_catches_up_every_missed_interval() -> None:
    """H1/W5: a timer that fires after several intervals closes each window at its deadline."""
    e = engine(flushIntervalMs=10_000)
    out = windows(e.handle(Tick(35_000)))
    assert [(w.started, w.ended, w.active_ms) for w in out] == [
        (0, 10_000, 10_000),
        (10_000, 20_000, 10_000),
        (20_000, 30_000, 10_000),
    ]
    assert e.elapsed_ms(35_000) == 5_000


def test_w1_windows_tile_time_across_flushes() -> None:
    """W1: each window's end is the next one's start, except across a pause."""
    e = engine()
    out = (
        windows(e.handle(Tick(15_000)))
        + windows(e.handle(Flush(20_000)))
        + windows(e.handle(Tick(35_000)))
    )
    for before, after in itertools.pairwise(out):
        assert before.ended == after.started


def test_w1_after_pause_the_next_window_opens_at_resume() -> None:
    e = engine()
    first = windows(e.handle(Pause(4_000)))
    assert first == [Window(0, 4_000, 4_000, 0, FlushReason.PAUSE)]
    assert e.handle(Tick(60_000)) == []  # W5: no heartbeats while paused
    e.handle(Resume(70_000))
    assert e.window_start == 70_000
    assert windows(e.handle(Tick(85_000))) == [
        Window(70_000, 85_000, 15_000, 0, FlushReason.INTERVAL)
    ]


def test_w2_active_plus_paused_equals_window_length() -> None:
    e = engine(flushOnVisibilityHidden=False)
    e.handle(VisibilityChanged(True, 3_000))
    e.handle(VisibilityChanged(False, 7_500))
    (w,) = windows(e.handle(Tick(15_000)))
    assert w.active_ms + w.paused_ms == w.ended - w.started
    assert (w.active_ms, w.paused_ms) == (10_500, 4_500)


def test_w3_hidden_time_is_paused_time_when_visibility_aware() -> None:
    """W3: active only while not paused and visible."""
    e = engine(flushOnVisibilityHidden=False)
    e.handle(VisibilityChanged(True, 5_000))
    assert e.elapsed_ms(9_000) == 5_000
    e.handle(VisibilityChanged(False, 9_000))
    assert e.elapsed_ms(10_000) == 6_000


def test_w4_empty_window_is_not_sent() -> None:
    e = engine()
    assert windows(e.handle(Flush(0))) == []
    e.handle(Tick(15_000))
    assert windows(e.handle(Flush(15_000))) == []  # the window opened at 15 000 is still empty


def test_w5_flush_on_hidden_closes_the_window_at_the_event_time() -> None:
    e = engine()
    out = windows(e.handle(VisibilityChanged(True, 6_000)))
    assert out == [Window(0, 6_000, 6_000, 0, FlushReason.HIDDEN)]


def test_w5_no_flush_on_hidden_when_disabled() -> None:
    e = engine(flushOnVisibilityHidden=False)
    assert windows(e.handle(VisibilityChanged(True, 6_000))) == []


def test_w7_elapsed_resets_after_flush_total_keeps_counting() -> None:
    e = engine()
    assert e.elapsed_ms(5_000) == 5_000
    e.handle(Flush(5_000))
    assert e.elapsed_ms(5_000) == 0
    assert e.total_active_ms(8_000) == 8_000
    assert e.elapsed_ms(8_000) == 3_000


def test_interval_does_not_run_while_hidden_one_window_until_return() -> None:
    """H2: hidden time is one window; on return an overdue window is closed at the change."""
    e = engine()
    e.handle(VisibilityChanged(True, 5_000))  # window [0, 5000] sent, [5000, ...) hidden
    assert e.next_deadline() == 5_000 + 10 * MIN  # only the hidden timeout
    out = windows(e.handle(VisibilityChanged(False, 65_000)))
    assert out == [Window(5_000, 65_000, 0, 60_000, FlushReason.OVERDUE)]
    assert e.next_deadline() == 80_000


def test_short_hide_stays_in_the_same_window() -> None:
    e = engine()
    e.handle(VisibilityChanged(True, 5_000))
    assert windows(e.handle(VisibilityChanged(False, 8_000))) == []
    (w,) = windows(e.handle(Tick(20_000)))
    assert (w.started, w.ended, w.active_ms, w.paused_ms) == (5_000, 20_000, 12_000, 3_000)


def test_h1_hidden_timeout_pauses_at_exactly_hide_plus_timeout_even_when_timer_is_late() -> None:
    e = engine()
    e.handle(VisibilityChanged(True, 10_000))
    # Chromium throttles hidden timers: the tick comes 47 s after the deadline.
    effects = e.handle(Tick(10_000 + 10 * MIN + 47_000))
    assert windows(effects) == [
        Window(10_000, 10_000 + 10 * MIN, 0, 10 * MIN, FlushReason.HIDDEN_TIMEOUT)
    ]
    assert pauses(effects) == [PauseChanged(paused=True, at=10_000 + 10 * MIN, automatic=True)]
    assert e.is_paused


def test_h1_tab_visible_after_the_deadline_before_the_timer_still_pauses_at_the_deadline() -> None:
    e = engine()
    e.handle(VisibilityChanged(True, 0))
    effects = e.handle(VisibilityChanged(False, 25 * MIN))
    assert windows(effects) == [Window(0, 10 * MIN, 0, 10 * MIN, FlushReason.HIDDEN_TIMEOUT)]
    assert pauses(effects) == [
        PauseChanged(paused=True, at=10 * MIN, automatic=True),
        PauseChanged(paused=False, at=25 * MIN, automatic=True),
    ]
    assert e.window_start == 25 * MIN


def test_h2_time_after_the_timeout_is_not_reported_and_resume_opens_a_fresh_window() -> None:
    e = engine()
    e.handle(VisibilityChanged(True, 1_000))
    e.handle(Tick(1_000 + 10 * MIN))
    assert e.handle(Tick(2 * 60 * MIN)) == []
    effects = e.handle(VisibilityChanged(False, 2 * 60 * MIN))
    assert pauses(effects) == [PauseChanged(paused=False, at=2 * 60 * MIN, automatic=True)]
    assert not e.is_paused
    (w,) = windows(e.handle(Tick(2 * 60 * MIN + 15_000)))
    assert (w.started, w.active_ms, w.paused_ms) == (2 * 60 * MIN, 15_000, 0)
    assert e.total_active_ms(2 * 60 * MIN + 15_000) == 1_000 + 15_000


def test_h2_hidden_timeout_with_no_flush_on_hidden_keeps_active_part_in_that_window() -> None:
    e = engine(flushOnVisibilityHidden=False)
    e.handle(VisibilityChanged(True, 4_000))
    (w,) = windows(e.handle(Tick(4_000 + 10 * MIN)))
    assert (w.started, w.ended, w.active_ms, w.paused_ms) == (0, 4_000 + 10 * MIN, 4_000, 10 * MIN)


def test_hidden_timeout_disabled_with_none() -> None:
    e = engine(hiddenTimeoutMs=None)
    e.handle(VisibilityChanged(True, 0))
    assert e.next_deadline() is None
    assert e.handle(Tick(5 * 60 * MIN)) == []
    assert not e.is_paused


def test_h3_visibility_aware_false_counts_hidden_time_as_active() -> None:
    e = engine(visibilityAware=False)
    assert windows(e.handle(VisibilityChanged(True, 1_000))) == []
    assert e.elapsed_ms(9_000) == 9_000
    assert not e.is_hidden


def test_explicit_pause_is_not_undone_by_visibility() -> None:
    e = engine()
    e.handle(Pause(1_000))
    e.handle(VisibilityChanged(True, 2_000))
    assert e.handle(VisibilityChanged(False, 3_000)) == []
    assert e.is_paused


def test_pause_after_hidden_timeout_makes_it_stick() -> None:
    e = engine()
    e.handle(VisibilityChanged(True, 0))
    e.handle(Tick(10 * MIN))
    assert e.handle(Pause(11 * MIN)) == []  # already paused: nothing to flush, no second onPause
    assert e.handle(VisibilityChanged(False, 12 * MIN)) == []
    assert e.is_paused
    assert pauses(e.handle(Resume(13 * MIN))) == [
        PauseChanged(paused=False, at=13 * MIN, automatic=False)
    ]


def test_resume_while_hidden_restarts_the_timeout_from_the_resume() -> None:
    e = engine()
    e.handle(VisibilityChanged(True, 0))
    e.handle(Tick(10 * MIN))
    e.handle(Resume(20 * MIN))
    assert e.next_deadline() == 30 * MIN
    assert e.elapsed_ms(25 * MIN) == 0


def test_resume_when_running_is_a_no_op() -> None:
    e = engine()
    assert e.handle(Resume(1_000)) == []
    assert e.window_start == 0


def test_t2_event_placed_before_last_processed_time_is_clamped() -> None:
    """T2: events carry their own time; one older than what the engine already processed
    (a handler that ran after a timer) is placed at that moment, never in the past."""
    e = engine()
    e.handle(Tick(15_000))
    out = windows(e.handle(VisibilityChanged(True, 14_000)))
    assert out == []  # the window opened at 15 000 is empty at 15 000
    assert e.now == 15_000


def test_p1_page_hide_closes_the_window_for_a_beacon() -> None:
    e = engine()
    effects = e.handle(PageHide(7_000))
    assert effects == [SendWindow(Window(0, 7_000, 7_000, 0, FlushReason.PAGE_HIDE), beacon=True)]
    assert e.next_deadline() is None  # frozen: no timer while the page is away


def test_p2_back_forward_cache_time_is_not_counted() -> None:
    e = engine()
    e.handle(PageHide(7_000))
    e.handle(VisibilityChanged(True, 7_001))  # Chromium: pagehide, then hidden
    e.handle(VisibilityChanged(False, 60_000))  # restore: visible, then pageshow
    assert windows(e.handle(PageShow(60_000))) == []
    assert e.window_start == 60_000
    (w,) = windows(e.handle(Tick(75_000)))
    assert (w.started, w.active_ms, w.paused_ms) == (60_000, 15_000, 0)
    assert e.total_active_ms(75_000) == 22_000


def test_p2_without_flush_on_page_hide_the_held_window_is_sent_on_restore() -> None:
    e = engine(flushOnPageHide=False)
    assert e.handle(PageHide(7_000)) == []
    effects = e.handle(PageShow(90_000))
    assert windows(effects) == [Window(0, 7_000, 7_000, 0, FlushReason.RESTORED)]
    assert e.window_start == 90_000


def test_page_show_without_page_hide_is_a_protocol_error_that_changes_nothing() -> None:
    e = engine()
    with pytest.raises(ProtocolError, match="PageShow is not taken while the page is live"):
        e.handle(PageShow(5_000))
    assert e.window_start == 0 and e.now == 0  # refused before time moved


def test_a_second_page_hide_is_a_protocol_error() -> None:
    e = engine()
    e.handle(PageHide(1_000))
    with pytest.raises(ProtocolError, match="page is frozen"):
        e.handle(PageHide(2_000))


def test_page_restored_while_paused_stays_paused() -> None:
    e = engine()
    e.handle(Pause(1_000))
    e.handle(PageHide(2_000))
    assert e.handle(PageShow(3_000)) == []
    assert e.is_paused and e.window_start is None


def test_page_restored_hidden_counts_the_hidden_timeout_from_the_restore() -> None:
    e = engine()
    e.handle(PageHide(1_000))
    e.handle(VisibilityChanged(True, 1_001))
    e.handle(PageShow(5_000))
    assert e.next_deadline() == 5_000 + 10 * MIN


def test_restored_after_hidden_timeout_resumes_when_visible() -> None:
    e = engine()
    e.handle(VisibilityChanged(True, 0))
    e.handle(Tick(10 * MIN))
    e.handle(PageHide(11 * MIN))
    e.handle(VisibilityChanged(False, 12 * MIN))
    effects = e.handle(PageShow(12 * MIN))
    assert pauses(effects) == [PauseChanged(paused=False, at=12 * MIN, automatic=True)]


def test_end_flushes_and_close_stops_everything() -> None:
    e = engine()
    assert windows(e.handle(End(3_000))) == [Window(0, 3_000, 3_000, 0, FlushReason.END)]
    e.handle(Close())
    assert e.next_deadline() is None
    assert e.activity_state is ActivityState.ENDED
    for event in (
        Tick(60_000),
        Pause(1),
        Resume(2),
        Flush(70_000),
        End(70_000),
        DiscardOpenWindow(70_000),
        VisibilityChanged(True, 80_000),
        PageHide(90_000),
        PageShow(91_000),
        Close(),
    ):
        assert not e.takes(event)
        with pytest.raises(ProtocolError, match="while the activity is ended"):
            e.handle(event)


def test_discard_open_window_drops_tracked_time() -> None:
    e = engine()
    e.handle(DiscardOpenWindow(9_000))
    assert e.window_start == 9_000
    assert windows(e.handle(Flush(9_000))) == []


def test_started_hidden_counts_nothing_until_visible() -> None:
    e = TimeEngine(TimeOptions(), 0, hidden=True)
    assert e.next_deadline() == 10 * MIN
    e.handle(VisibilityChanged(False, 4_000))
    (w,) = windows(e.handle(Tick(15_000)))
    assert (w.active_ms, w.paused_ms) == (11_000, 4_000)


def test_p2_restored_visible_after_a_hidden_exit_does_not_time_out() -> None:
    """Chromium: hidden, pagehide, then on restore visibilitychange (visible) before pageshow.
    The old hide must not pause the visible page 10 minutes after it."""
    e = engine()
    e.handle(VisibilityChanged(True, 1_000))
    e.handle(PageHide(2_000))
    e.handle(VisibilityChanged(False, 500_000))
    e.handle(PageShow(500_000))
    assert e.next_deadline() == 515_000  # the interval, no hidden timeout
    assert pauses(e.handle(Tick(500_001))) == []
    assert not e.is_paused


def test_a_one_ms_hidden_timeout_is_a_real_deadline() -> None:
    e = engine(hiddenTimeoutMs=1)
    e.handle(VisibilityChanged(True, 0))
    assert e.next_deadline() == 1


# -- the transition table -------------------------------------------------------------------

EXTERNAL: list[Event] = [
    Tick(0),
    VisibilityChanged(True, 0),
    Pause(0),
    Resume(0),
    Flush(0),
    End(0),
    DiscardOpenWindow(0),
    PageHide(0),
    PageShow(0),
    Close(),
]


def engine_in(activity: ActivityState, page: PageState) -> TimeEngine:
    """An engine driven into these states through the door, as a page would."""
    e = engine(flushOnPageHide=False)
    if activity is ActivityState.PAUSED:
        e.handle(Pause(0))
    elif activity is ActivityState.TIMED_OUT:
        e.handle(VisibilityChanged(True, 0))
        e.handle(Tick(10 * MIN))
    if page is PageState.FROZEN:
        e.handle(PageHide(e.now))
    if activity is ActivityState.ENDED:
        e.handle(Close())
    assert (e.activity_state, e.page_state) == (activity, page)
    return e


@pytest.mark.parametrize("activity", list(ActivityState))
@pytest.mark.parametrize("page", list(PageState))
@pytest.mark.parametrize("event", EXTERNAL, ids=lambda event: type(event).__name__)
def test_every_state_takes_exactly_the_events_of_its_table_row(
    activity: ActivityState, page: PageState, event: Event
) -> None:
    """One table decides: an event the row lists is taken and leads to a listed state; any
    other raises ProtocolError and leaves the engine as it was."""
    e = engine_in(activity, page)
    kind = type(event)
    taken_by_activity = kind in TRANSITIONS["activity"][activity]
    taken = taken_by_activity and (
        activity is ActivityState.ENDED or kind in TRANSITIONS["page"][page]
    )
    assert e.takes(event) == taken
    if not taken:
        before = (e.activity_state, e.page_state, e.window_state, e.now)
        with pytest.raises(ProtocolError):
            e.handle(event)
        assert (e.activity_state, e.page_state, e.window_state, e.now) == before
        return
    e.handle(event)
    assert e.activity_state in TRANSITIONS["activity"][activity][kind]
    if activity is not ActivityState.ENDED:
        assert e.page_state in TRANSITIONS["page"][page][kind]


@pytest.mark.parametrize("event", [IntervalDue(0), HiddenTimeoutDue(0)])
def test_deadline_events_are_the_engines_own(event: Event) -> None:
    with pytest.raises(ProtocolError, match="own deadline"):
        engine().handle(event)


def test_the_table_reaches_every_state_and_ended_takes_nothing() -> None:
    activity = TRANSITIONS["activity"]
    assert set(activity) == set(ActivityState)
    reached = {
        target for row in activity.values() for targets in row.values() for target in targets
    }
    assert reached == set(ActivityState)
    assert activity[ActivityState.ENDED] == {}
    assert set(TRANSITIONS["page"]) == set(PageState)


def test_named_states_follow_the_window() -> None:
    e = engine()
    assert (e.activity_state, e.page_state, e.window_state) == (
        ActivityState.RUNNING,
        PageState.LIVE,
        WindowState.OPEN,
    )
    e.handle(Pause(1_000))
    assert (e.activity_state, e.window_state) == (ActivityState.PAUSED, WindowState.NONE)
    e.handle(Resume(2_000))
    e.handle(VisibilityChanged(True, 3_000))
    e.handle(Tick(3_000 + 10 * MIN))
    assert e.activity_state is ActivityState.TIMED_OUT and e.is_paused
    e.handle(PageHide(4_000 + 10 * MIN))
    assert e.page_state is PageState.FROZEN
    e.handle(VisibilityChanged(False, 5_000 + 10 * MIN))
    assert e.activity_state is ActivityState.TIMED_OUT  # frozen: the pageshow decides
    e.handle(PageShow(6_000 + 10 * MIN))
    assert (e.activity_state, e.page_state, e.window_state) == (
        ActivityState.RUNNING,
        PageState.LIVE,
        WindowState.OPEN,
    )


# -- gaps the mutation check found ----------------------------------------------------------


def test_an_interval_window_is_not_a_beacon() -> None:
    e = engine()
    assert e.handle(Tick(15_000)) == [
        SendWindow(Window(0, 15_000, 15_000, 0, FlushReason.INTERVAL), beacon=False)
    ]
    assert e.handle(Flush(16_000)) == [
        SendWindow(Window(15_000, 16_000, 1_000, 0, FlushReason.MANUAL), beacon=False)
    ]


def test_w2_hidden_time_adds_up_over_several_ticks() -> None:
    e = engine(flushOnVisibilityHidden=False)
    e.handle(VisibilityChanged(True, 3_000))
    e.handle(Tick(5_000))
    e.handle(Tick(8_000))
    e.handle(VisibilityChanged(False, 9_000))
    assert windows(e.handle(Tick(15_000))) == [
        Window(0, 15_000, 9_000, 6_000, FlushReason.INTERVAL)
    ]


def test_a_visible_page_never_times_out_whatever_brought_it_back() -> None:
    """H2: the hidden timeout runs only while hidden (at start, after resume, after restore)."""
    e = engine(hiddenTimeoutMs=1_000)
    e.handle(Tick(5_000))
    assert not e.is_paused
    e.handle(Pause(5_000))
    e.handle(Resume(6_000))
    e.handle(Tick(9_000))
    assert not e.is_paused
    e.handle(PageHide(9_000))
    e.handle(PageShow(10_000))
    e.handle(Tick(13_000))
    assert not e.is_paused


def test_no_hidden_timeout_while_explicitly_paused() -> None:
    e = engine()
    e.handle(Pause(1_000))
    e.handle(VisibilityChanged(True, 2_000))
    assert e.next_deadline() is None
    assert e.handle(Tick(60 * MIN)) == []


def test_a_window_that_just_reached_its_interval_while_hidden_is_closed_on_return() -> None:
    e = engine()
    e.handle(VisibilityChanged(True, 20_000))  # window [20 000, ...) hidden
    assert windows(e.handle(VisibilityChanged(False, 35_000))) == [
        Window(20_000, 35_000, 0, 15_000, FlushReason.OVERDUE)
    ]
    e.handle(VisibilityChanged(True, 40_000))
    assert windows(e.handle(VisibilityChanged(False, 43_000))) == []  # short: same window


def test_pause_is_announced_as_not_automatic_and_leaves_no_open_time() -> None:
    e = engine()
    assert pauses(e.handle(Pause(4_000))) == [PauseChanged(paused=True, at=4_000, automatic=False)]
    assert e.elapsed_ms(9_000) == 0 and e.total_active_ms(9_000) == 4_000


def test_after_close_nothing_is_open_or_counted() -> None:
    e = engine()
    e.handle(Tick(5_000))
    e.handle(Close())
    assert e.window_state is WindowState.NONE
    # The open window was never closed (no End): Close drops it.
    assert e.elapsed_ms(9_000) == 0 and e.total_active_ms(9_000) == 0


def test_a_move_outside_the_table_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine checks itself against TRANSITIONS after every event."""
    row = dict(TRANSITIONS["page"][PageState.LIVE])
    row[Pause] = (PageState.FROZEN,)  # the table now claims Pause freezes the page
    monkeypatch.setitem(TRANSITIONS["page"], PageState.LIVE, row)
    with pytest.raises(
        AssertionError, match="Pause: running/live -> paused/live is not in TRANSITIONS"
    ):
        engine().handle(Pause(1_000))
