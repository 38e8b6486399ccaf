"""The time engine: a pure state machine that turns a tab's life into heartbeat windows.

Sans-I/O in the manner of h11: it is fed events that carry timestamps (integer ms of one
monotonic clock, T1) through one door, ``handle(event)``, and answers with effects (a window
to send, a pause or resume to announce). It imports nothing from the browser, sets no timer
and sends nothing; the driver asks ``next_deadline()`` and hands in a ``Tick`` when it comes.
Rule names refer to time-model.md.

State is named per concern: the activity (running / paused / timed out / ended), the page
(live / frozen in the back/forward cache) and the window (open / none). ``TRANSITIONS`` below
is the whole machine: for each state of a concern, the events it takes and the states they
may lead to. An event that a state does not take raises ``ProtocolError`` instead of
vanishing; ``docs/engine.md`` draws the table (``scripts/engine_diagram.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .models import TimeOptions


class ActivityState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # pause(): stays paused until resume()
    TIMED_OUT = "timed out"  # H2: paused by the hidden timeout; the return resumes it
    ENDED = "ended"  # close(): nothing more happens


class PageState(StrEnum):
    LIVE = "live"
    FROZEN = "frozen"  # between pagehide and pageshow: the back/forward cache (P2)


class WindowState(StrEnum):
    OPEN = "open"
    NONE = "none"


class FlushReason(StrEnum):
    INTERVAL = "interval"  # W5: every flushIntervalMs of window time
    HIDDEN = "hidden"  # W5: the tab became hidden (flushOnVisibilityHidden)
    PAUSE = "pause"  # W5: pause()
    HIDDEN_TIMEOUT = "hidden-timeout"  # H2: the window that ends at the timeout
    MANUAL = "manual"  # flushTimeSpent()
    END = "end"  # end()
    PAGE_HIDE = "pagehide"  # P1: page exit, sent by beacon
    RESTORED = "restored"  # P2: closing a window held over a back/forward-cache stay
    OVERDUE = "overdue"  # a window that outlived its interval while hidden, closed on return


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tick:
    """A timer fired (maybe late, H1): do what fell due up to ``at``."""

    at: int


@dataclass(frozen=True, slots=True)
class VisibilityChanged:
    """``visibilitychange`` placed at its event's ``timeStamp`` (T2)."""

    hidden: bool
    at: int


@dataclass(frozen=True, slots=True)
class Pause:
    """``pause()``: flush, then no window until ``resume()`` (W1, W5)."""

    at: int


@dataclass(frozen=True, slots=True)
class Resume:
    """``resume()``: a fresh window; taken but without effect when running."""

    at: int


@dataclass(frozen=True, slots=True)
class Flush:
    """``flushTimeSpent()``: close the open window and open the next at the same instant."""

    at: int


@dataclass(frozen=True, slots=True)
class End:
    """``end()``: the final flush. The activity keeps running until ``Close``, so that one
    whose completion failed stays usable (R2)."""

    at: int


@dataclass(frozen=True, slots=True)
class DiscardOpenWindow:
    """``end({time})`` overrides the tracked time: the open window is dropped, not sent."""

    at: int


@dataclass(frozen=True, slots=True)
class PageHide:
    """``pagehide``: with ``flushOnPageHide`` the window goes by beacon (P1), else it is held."""

    at: int


@dataclass(frozen=True, slots=True)
class PageShow:
    """``pageshow`` with ``persisted``: back from the cache; that stay is not counted (P2)."""

    at: int


@dataclass(frozen=True, slots=True)
class Close:
    """The activity ended: no window, no deadline; every later event is a protocol error."""


# Deadlines the engine meets on its own while time moves to an event's ``at``; they are in
# the table so that the diagram shows them, but ``handle()`` refuses them from outside.
@dataclass(frozen=True, slots=True)
class IntervalDue:
    """W5: the open window reached flushIntervalMs."""

    at: int


@dataclass(frozen=True, slots=True)
class HiddenTimeoutDue:
    """H2: the tab stayed hidden for hiddenTimeoutMs."""

    at: int


Event = (
    Tick
    | VisibilityChanged
    | Pause
    | Resume
    | Flush
    | End
    | DiscardOpenWindow
    | PageHide
    | PageShow
    | Close
    | IntervalDue
    | HiddenTimeoutDue
)
EventType = type[Event]
INTERNAL_EVENTS: Final[frozenset[EventType]] = frozenset({IntervalDue, HiddenTimeoutDue})

# -- the transition table ----------------------------------------------------------------------
#
# For each concern and state: event type -> the states it may lead to (the first is the usual
# one; a second is chosen by the page's visibility or the page state, said in the comment).
# An event is checked against the states at its arrival; the deadlines that fall due before
# its ``at`` are handled first, each as its own transition.

RUNNING, PAUSED, TIMED_OUT, ENDED = ActivityState
LIVE, FROZEN = PageState

_TAKEN_ALWAYS: Final = (Tick, VisibilityChanged, End, DiscardOpenWindow)

TRANSITIONS: Final[dict[str, dict[StrEnum, dict[EventType, tuple[StrEnum, ...]]]]] = {
    "activity": {
        RUNNING: {
            **{event: (RUNNING,) for event in _TAKEN_ALWAYS},
            IntervalDue: (RUNNING,),
            HiddenTimeoutDue: (TIMED_OUT,),
            Pause: (PAUSED,),
            Resume: (RUNNING,),  # the reference: a no-op when not paused
            Flush: (RUNNING,),
            PageHide: (RUNNING,),
            PageShow: (RUNNING,),
            Close: (ENDED,),
        },
        PAUSED: {
            **{event: (PAUSED,) for event in _TAKEN_ALWAYS},
            Pause: (PAUSED,),
            Resume: (RUNNING,),
            Flush: (PAUSED,),  # no window to close
            PageHide: (PAUSED,),
            PageShow: (PAUSED,),
            Close: (ENDED,),
        },
        TIMED_OUT: {
            **{event: (TIMED_OUT,) for event in _TAKEN_ALWAYS},
            # Back to visible resumes by itself (H2), unless the page is frozen: then the
            # pageshow decides with the visibility it finds.
            VisibilityChanged: (TIMED_OUT, RUNNING),
            Pause: (PAUSED,),  # an explicit pause makes it stick
            Resume: (RUNNING,),
            Flush: (TIMED_OUT,),
            PageHide: (TIMED_OUT,),
            PageShow: (TIMED_OUT, RUNNING),  # RUNNING when restored visible
            Close: (ENDED,),
        },
        ENDED: {},
    },
    "page": {
        LIVE: {
            **{
                event: (LIVE,)
                for event in (*_TAKEN_ALWAYS, Pause, Resume, Flush, Close, IntervalDue)
            },
            HiddenTimeoutDue: (LIVE,),
            PageHide: (FROZEN,),
        },
        FROZEN: {
            # No deadline falls due while frozen: no interval, no hidden timeout.
            **{event: (FROZEN,) for event in (*_TAKEN_ALWAYS, Pause, Resume, Flush, Close)},
            PageShow: (LIVE,),
        },
    },
}


class ProtocolError(RuntimeError):
    """An event reached a state that does not take it (a driver bug, or a browser that
    sent ``pageshow`` without ``pagehide``). The engine's state is unchanged."""


@dataclass(frozen=True, slots=True)
class Window:
    """A closed window: ``active_ms + paused_ms == ended - started`` exactly (W2)."""

    started: int
    ended: int
    active_ms: int
    paused_ms: int
    reason: FlushReason


@dataclass(frozen=True, slots=True)
class SendWindow:
    """Effect: deliver this window; ``beacon`` when the page is going away (P1)."""

    window: Window
    beacon: bool = False


@dataclass(frozen=True, slots=True)
class PauseChanged:
    """Effect: the activity paused or resumed (``onPause`` / ``onResume``).

    ``automatic`` is true for the hidden timeout and the return after it (H2).
    """

    paused: bool
    at: int
    automatic: bool


Effect = SendWindow | PauseChanged


def _targets(concern: str, state: StrEnum, event: EventType) -> tuple[StrEnum, ...]:
    taken = TRANSITIONS[concern][state].get(event)
    if taken is None:
        raise ProtocolError(f"{event.__name__} is not taken while the {concern} is {state}")
    return taken


class TimeEngine:
    """Window accounting for one activity with time tracking on."""

    def __init__(self, options: TimeOptions, started: int, *, hidden: bool = False) -> None:
        self._options = options
        self._now = started
        self._activity = RUNNING
        self._page = LIVE
        # With visibilityAware off the document is never considered hidden (H3).
        self._hidden = hidden and options.visibility_aware
        self._frozen_at = started  # meaningful while the page is FROZEN
        self._window_start: int | None = started
        self._active = 0
        self._inactive = 0
        self._closed_active = 0
        self._hidden_since: int | None = started if self._hidden else None

    # -- reading ---------------------------------------------------------------------------

    @property
    def now(self) -> int:
        """The latest time the engine has processed; earlier events are placed here."""
        return self._now

    @property
    def activity_state(self) -> ActivityState:
        return self._activity

    @property
    def page_state(self) -> PageState:
        return self._page

    @property
    def window_state(self) -> WindowState:
        return WindowState.NONE if self._window_start is None else WindowState.OPEN

    @property
    def is_paused(self) -> bool:
        """Paused by ``pause()`` or by the hidden timeout."""
        return self._activity in (PAUSED, TIMED_OUT)

    @property
    def is_hidden(self) -> bool:
        return self._hidden

    @property
    def window_start(self) -> int | None:
        return self._window_start

    def takes(self, event: Event) -> bool:
        """Whether ``handle(event)`` would accept the event now (no ``ProtocolError``)."""
        try:
            self._check(type(event))
        except ProtocolError:
            return False
        return True

    def elapsed_ms(self, at: int) -> int:
        """W7: active time of the open window, projected to ``at`` without changing state."""
        extra = max(0, at - self._now) if self._counts_active() else 0
        return self._active + extra

    def total_active_ms(self, at: int) -> int:
        """W7: active time of every closed window plus the open one."""
        return self._closed_active + self.elapsed_ms(at)

    def next_deadline(self) -> int | None:
        """When a ``Tick`` has work to do: the next interval flush or the hidden timeout."""
        deadlines = [
            d for d in (self._interval_deadline(), self._timeout_deadline()) if d is not None
        ]
        return min(deadlines) if deadlines else None

    # -- the one door ----------------------------------------------------------------------

    def handle(self, event: Event) -> list[Effect]:
        """Apply one event; returns its effects in order. Raises ``ProtocolError`` when the
        current state does not take the event (then nothing changed)."""
        kind = type(event)
        if kind in INTERNAL_EVENTS:
            raise ProtocolError(f"{kind.__name__} is the engine's own deadline, not an input")
        self._check(kind)
        effects: list[Effect] = []
        if isinstance(event, Close):
            self._activity = ENDED
            self._window_start = None
            self._active = self._inactive = 0
            return effects
        self._advance(event.at, effects)
        before = (self._activity, self._page)
        self._apply(event, effects)
        self._verify(kind, before)
        return effects

    # -- internals -------------------------------------------------------------------------

    def _check(self, kind: EventType) -> None:
        _targets("activity", self._activity, kind)
        if self._activity is not ENDED:
            _targets("page", self._page, kind)

    def _verify(self, kind: EventType, before: tuple[ActivityState, PageState]) -> None:
        """The code and the table must agree: a move the table does not list is a bug."""
        activity, page = before
        if self._activity not in _targets("activity", activity, kind) or self._page not in (
            _targets("page", page, kind)
        ):
            raise AssertionError(
                f"{kind.__name__}: {activity}/{page} -> {self._activity}/{self._page} "
                "is not in TRANSITIONS"
            )

    def _apply(self, event: Event, effects: list[Effect]) -> None:
        at = self._now
        match event:
            case Tick():
                pass
            case VisibilityChanged(hidden=hidden):
                self._visibility(hidden, at, effects)
            case Pause():
                if self._activity is RUNNING:
                    self._pause(at, FlushReason.PAUSE, automatic=False, effects=effects)
                else:
                    # Paused already; after the hidden timeout it now stays paused on return.
                    self._activity = PAUSED
            case Resume():
                if self._activity is not RUNNING:
                    self._resume(at, automatic=False, effects=effects)
            case Flush():
                self._flush(at, FlushReason.MANUAL, effects)
            case End():
                self._flush(at, FlushReason.END, effects)
            case DiscardOpenWindow():
                if self._window_start is not None:
                    self._open(at)
            case PageHide():
                if self._window_start is not None and self._options.flush_on_page_hide:
                    self._close(at, FlushReason.PAGE_HIDE, effects, beacon=True)
                self._page = FROZEN
                self._frozen_at = at
            case PageShow(at=shown):
                self._page_show(shown, effects)
            case _:  # pragma: no cover - Close and the internal events never get here
                raise AssertionError(event)

    def _visibility(self, hidden: bool, at: int, effects: list[Effect]) -> None:
        if not self._options.visibility_aware or hidden == self._hidden:
            return
        self._hidden = hidden
        if self._page is FROZEN:
            return  # the page is in the back/forward cache; pageshow decides (P2)
        if hidden:
            self._hidden_since = at
            if self._window_start is not None and self._options.flush_on_visibility_hidden:
                self._close(at, FlushReason.HIDDEN, effects)
                self._open(at)
            return
        self._hidden_since = None
        if self._activity is TIMED_OUT:
            self._resume(at, automatic=True, effects=effects)  # H2: fresh window at the change
        elif self._window_start is not None and at - self._window_start >= self._interval:
            # The interval does not run while hidden (H2 wants one window up to the timeout),
            # so a window that outlived it is closed here and active time starts afresh.
            self._close(at, FlushReason.OVERDUE, effects)
            self._open(at)

    def _flush(self, at: int, reason: FlushReason, effects: list[Effect]) -> None:
        if self._window_start is not None and self._page is LIVE:
            self._close(at, reason, effects)
            self._open(at)

    def _page_show(self, shown: int, effects: list[Effect]) -> None:
        self._page = LIVE
        if self._window_start is not None:
            self._close(self._frozen_at, FlushReason.RESTORED, effects)
        self._now = max(self._now, shown)
        at = self._now
        # The visibility seen while frozen decides; an old hide must not time out a page
        # that came back visible (Chromium sends visibilitychange before pageshow).
        self._hidden_since = at if self._hidden else None
        if self._activity is TIMED_OUT and not self._hidden:
            self._resume(at, automatic=True, effects=effects)
        elif self._activity is RUNNING:
            self._open(at)

    @property
    def _interval(self) -> int:
        return self._options.flush_interval_ms

    def _counts_active(self) -> bool:
        return (
            self._window_start is not None
            and self._page is LIVE
            and self._activity is RUNNING
            and not self._hidden
        )

    def _interval_deadline(self) -> int | None:
        # W5: measured from the window's start, so heartbeats do not drift; it runs only
        # while time is active (a hidden stretch is one window, H2).
        if self._window_start is None or not self._counts_active():
            return None
        return self._window_start + self._interval

    def _timeout_deadline(self) -> int | None:
        timeout = self._options.hidden_timeout
        if (
            timeout is None
            or self._hidden_since is None
            or self._activity is not RUNNING
            or self._page is FROZEN
        ):
            return None
        return self._hidden_since + timeout

    def _advance(self, at: int, effects: list[Effect]) -> None:
        """Move time to ``at``, meeting every deadline on the way at its exact time (H1, W5).

        Events that arrive with a timestamp before the last processed moment (a handler that
        ran after a timer) are placed at that moment, so time never runs backwards.
        """
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > at:
                break
            self._accrue(max(deadline, self._now))
            before = (self._activity, self._page)
            if deadline == self._timeout_deadline():
                self._pause(self._now, FlushReason.HIDDEN_TIMEOUT, automatic=True, effects=effects)
                self._verify(HiddenTimeoutDue, before)
            else:
                self._close(self._now, FlushReason.INTERVAL, effects)
                self._open(self._now)
                self._verify(IntervalDue, before)
        self._accrue(at)

    def _accrue(self, at: int) -> None:
        if at <= self._now:
            return
        if self._window_start is not None and self._page is LIVE:
            if self._counts_active():
                self._active += at - self._now
            else:
                self._inactive += at - self._now
        self._now = at

    def _open(self, at: int) -> None:
        self._window_start = at
        self._active = self._inactive = 0

    def _close(
        self, at: int, reason: FlushReason, effects: list[Effect], *, beacon: bool = False
    ) -> None:
        assert self._window_start is not None
        window = Window(self._window_start, at, self._active, self._inactive, reason)
        self._closed_active += self._active
        self._window_start = None
        self._active = self._inactive = 0
        if window.active_ms or window.paused_ms:  # W4: an empty window is not sent
            effects.append(SendWindow(window, beacon))

    def _pause(
        self, at: int, reason: FlushReason, *, automatic: bool, effects: list[Effect]
    ) -> None:
        if self._window_start is not None:
            self._close(at, reason, effects)
        self._activity = TIMED_OUT if automatic else PAUSED
        self._hidden_since = None
        effects.append(PauseChanged(paused=True, at=at, automatic=automatic))

    def _resume(self, at: int, *, automatic: bool, effects: list[Effect]) -> None:
        self._activity = RUNNING
        # Resumed while hidden: the hidden timeout counts from here, not from the old hide.
        self._hidden_since = at if self._hidden else None
        if self._page is LIVE:
            self._open(at)
        effects.append(PauseChanged(paused=False, at=at, automatic=automatic))
