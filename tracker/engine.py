"""The time engine: a pure state machine that turns a tab's life into heartbeat windows.

Sans-I/O in the manner of h11: it is fed timestamps (integer ms of one monotonic clock, T1)
and events, and answers with effects (a window to send, a pause or resume to announce).
It imports nothing from the browser, sets no timer and sends nothing; the driver asks
``next_deadline()`` and calls ``tick()`` when it comes. Rule names refer to time-model.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .models import TimeOptions


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


class TimeEngine:
    """Window accounting for one activity with time tracking on."""

    def __init__(self, options: TimeOptions, started: int, *, hidden: bool = False) -> None:
        self._options = options
        self._now = started
        # With visibilityAware off the document is never considered hidden (H3).
        self._hidden = hidden and options.visibility_aware
        self._paused = False
        self._paused_by_timeout = False
        self._frozen_at: int | None = None  # set between pagehide and pageshow
        self._window_start: int | None = started
        self._active = 0
        self._inactive = 0
        self._closed_active = 0
        self._hidden_since: int | None = started if self._hidden else None
        self._ended = False

    # -- reading ---------------------------------------------------------------------------

    @property
    def now(self) -> int:
        """The latest time the engine has processed; earlier events are placed here."""
        return self._now

    @property
    def is_paused(self) -> bool:
        return self._paused

    @property
    def is_hidden(self) -> bool:
        return self._hidden

    @property
    def window_start(self) -> int | None:
        return self._window_start

    def elapsed_ms(self, at: int) -> int:
        """W7: active time of the open window, projected to ``at`` without changing state."""
        extra = max(0, at - self._now) if self._counts_active() else 0
        return self._active + extra

    def total_active_ms(self, at: int) -> int:
        """W7: active time of every closed window plus the open one."""
        return self._closed_active + self.elapsed_ms(at)

    def next_deadline(self) -> int | None:
        """When ``tick()`` has work to do: the next interval flush or the hidden timeout."""
        deadlines = [
            d for d in (self._interval_deadline(), self._timeout_deadline()) if d is not None
        ]
        return min(deadlines) if deadlines else None

    # -- events ----------------------------------------------------------------------------

    def tick(self, at: int) -> list[Effect]:
        """A timer fired (maybe late, H1): do what fell due up to ``at``."""
        effects: list[Effect] = []
        self._advance(at, effects)
        return effects

    def visibility(self, hidden: bool, at: int) -> list[Effect]:
        """``visibilitychange`` placed at its event's ``timeStamp`` (T2)."""
        effects: list[Effect] = []
        if not self._options.visibility_aware or self._ended:
            return effects
        self._advance(at, effects)
        if hidden == self._hidden:
            return effects
        self._hidden = hidden
        if self._frozen_at is not None:
            return effects  # the page is in the back/forward cache; pageshow decides (P2)
        at = self._now
        if hidden:
            self._hidden_since = at
            if self._window_start is not None and self._options.flush_on_visibility_hidden:
                self._close(at, FlushReason.HIDDEN, effects)
                self._open(at)
            return effects
        self._hidden_since = None
        if self._paused and self._paused_by_timeout:
            self._resume(at, automatic=True, effects=effects)  # H2: fresh window at the change
        elif self._window_start is not None and at - self._window_start >= self._interval:
            # The interval does not run while hidden (H2 wants one window up to the timeout),
            # so a window that outlived it is closed here and active time starts afresh.
            self._close(at, FlushReason.OVERDUE, effects)
            self._open(at)
        return effects

    def pause(self, at: int) -> list[Effect]:
        """``pause()``: flush, then no window until ``resume()`` (W1, W5)."""
        effects: list[Effect] = []
        if self._ended:
            return effects
        self._advance(at, effects)
        if self._paused:
            # Already paused by the hidden timeout: now it stays paused on return.
            self._paused_by_timeout = False
            return effects
        self._pause(self._now, FlushReason.PAUSE, automatic=False, effects=effects)
        return effects

    def resume(self, at: int) -> list[Effect]:
        """``resume()``: a fresh window; a no-op when not paused."""
        effects: list[Effect] = []
        if self._ended:
            return effects
        self._advance(at, effects)
        if self._paused:
            self._resume(self._now, automatic=False, effects=effects)
        return effects

    def flush(self, at: int, reason: FlushReason = FlushReason.MANUAL) -> list[Effect]:
        """Close the open window (if any) and open the next one at the same instant (W1)."""
        effects: list[Effect] = []
        if self._ended:
            return effects
        self._advance(at, effects)
        if self._window_start is not None and self._frozen_at is None:
            self._close(self._now, reason, effects)
            self._open(self._now)
        return effects

    def end(self, at: int) -> list[Effect]:
        """``end()``: the final flush. The engine keeps running until ``close()``, so that an
        activity whose completion failed stays usable (R2)."""
        return self.flush(at, FlushReason.END)

    def discard_open_window(self, at: int) -> None:
        """``end({time})`` overrides the tracked time: the open window is dropped, not sent."""
        self._advance(at, [])
        if self._window_start is not None:
            self._open(self._now)

    def close(self) -> None:
        """The activity ended: no window, no deadline, events are ignored."""
        self._ended = True
        self._window_start = None
        self._active = self._inactive = 0

    def page_hide(self, at: int) -> list[Effect]:
        """``pagehide``: the page may be unloaded or frozen in the back/forward cache.

        With ``flushOnPageHide`` the window is closed and sent by beacon (P1). Without it the
        window is held, frozen, and sent only if the page comes back (P2).
        """
        effects: list[Effect] = []
        if self._ended or self._frozen_at is not None:
            return effects
        self._advance(at, effects)
        at = self._now
        if self._window_start is not None and self._options.flush_on_page_hide:
            self._close(at, FlushReason.PAGE_HIDE, effects, beacon=True)
            self._window_start = None
        self._frozen_at = at
        return effects

    def page_show(self, at: int) -> list[Effect]:
        """``pageshow`` with ``persisted``: back from the cache; that stay is not counted (P2)."""
        effects: list[Effect] = []
        if self._ended or self._frozen_at is None:
            return effects
        frozen_at, self._frozen_at = self._frozen_at, None
        if self._window_start is not None:
            self._close(frozen_at, FlushReason.RESTORED, effects)
        self._now = max(self._now, at)
        at = self._now
        # The visibility seen while frozen decides; an old hide must not time out a page
        # that came back visible (Chromium sends visibilitychange before pageshow).
        self._hidden_since = at if self._hidden else None
        if self._paused and self._paused_by_timeout and not self._hidden:
            self._resume(at, automatic=True, effects=effects)
        elif not self._paused:
            self._open(at)
        return effects

    # -- internals -------------------------------------------------------------------------

    @property
    def _interval(self) -> int:
        return self._options.flush_interval_ms

    def _counts_active(self) -> bool:
        return (
            self._window_start is not None
            and self._frozen_at is None
            and not self._paused
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
            or self._paused
            or self._frozen_at is not None
            or self._ended
        ):
            return None
        return self._hidden_since + timeout

    def _advance(self, at: int, effects: list[Effect]) -> None:
        """Move time to ``at``, handling every deadline on the way at its exact time (H1, W5).

        Events that arrive with a timestamp before the last processed moment (a handler that
        ran after a timer) are placed at that moment, so time never runs backwards.
        """
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > at:
                break
            self._accrue(max(deadline, self._now))
            if deadline == self._timeout_deadline():
                self._pause(self._now, FlushReason.HIDDEN_TIMEOUT, automatic=True, effects=effects)
            else:
                self._close(self._now, FlushReason.INTERVAL, effects)
                self._open(self._now)
        self._accrue(at)

    def _accrue(self, at: int) -> None:
        if at <= self._now:
            return
        if self._window_start is not None and self._frozen_at is None:
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
        self._paused = True
        self._paused_by_timeout = automatic
        self._hidden_since = None
        effects.append(PauseChanged(paused=True, at=at, automatic=automatic))

    def _resume(self, at: int, *, automatic: bool, effects: list[Effect]) -> None:
        self._paused = False
        self._paused_by_timeout = False
        # Resumed while hidden: the hidden timeout counts from here, not from the old hide.
        self._hidden_since = at if self._hidden else None
        if self._frozen_at is None:
            self._open(at)
        effects.append(PauseChanged(paused=False, at=at, automatic=automatic))
