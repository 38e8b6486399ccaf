"""The activity instance of the reference page, driving the time engine with real events.

This is the only stateful glue between the pure engine (``engine.py``), delivery
(``outbox.py``) and the page (``ports.py``). It owns the one timer that the engine's next
deadline needs, turns engine effects into sends and callbacks, and implements ``pause``,
``resume``, ``flushTimeSpent`` and ``end``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .delivery import window_key
from .engine import (
    Close,
    DiscardOpenWindow,
    Effect,
    End,
    Event,
    Flush,
    FlushReason,
    PageHide,
    PageShow,
    Pause,
    PauseChanged,
    ProtocolError,
    Resume,
    SendWindow,
    Tick,
    TimeEngine,
    VisibilityChanged,
    Window,
)
from .errors import DeliveryError
from .models import CompletionData, StartParams, TimeOptions, TimeOverride
from .outbox import Outbox
from .ports import Clock, PageEvents, Scheduler, TimerHandle, Unsubscribe
from .retry import RetryPolicy
from .timefmt import datetime_from_epoch_ms, iso_from_epoch_ms
from .validation import validate
from .wire import heartbeat_json, submit_json

log = logging.getLogger("tracker")


def _resolved() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_event_loop().create_future()
    future.set_result(None)
    return future


@dataclass(frozen=True, slots=True)
class ActivityPorts:
    """What an activity uses of its page: the ports, the outbox, the two routes and whom to
    tell that it ended. The page's ``Tracker`` hands it in; the activity never reaches back
    into the tracker, so the dependency points one way (tracker -> activity)."""

    clock: Clock
    scheduler: Scheduler
    page: PageEvents
    outbox: Outbox
    heartbeat_url: str
    submit_url: str
    on_ended: Callable[[Activity], None]


class Activity:
    """One running activity: the object ``start()`` returns."""

    def __init__(
        self,
        ports: ActivityPorts,
        params: StartParams,
        run_id: str,
        started: int,
        visibility_history: list[tuple[int, bool]] | None = None,
    ) -> None:
        self._ports = ports
        self._params = params
        self._run_id = run_id
        self._started = started
        self._options: TimeOptions | None = params.time_options
        self._policy = self._options.retry_policy if self._options else RetryPolicy()
        self._ended = False
        self._timer: TimerHandle | None = None
        self._unsubscribe: list[Unsubscribe] = []
        self._ending: asyncio.Future[None] | None = None
        # True from end() until it failed: the engine keeps a window open at the end (R2),
        # but no timer may flush it while the final window and the completion are delivered.
        self._closing = False
        # A completion that failed keeps its endedAt, so calling end() again with the same
        # data is the same attempt for the server (wire §1), not a second one.
        self._failed_completion: tuple[CompletionData, str] | None = None
        self._override_sent = False  # end({time}) sends its window once (_send_override)
        self._engine: TimeEngine | None = None
        if self._options is not None:
            self._start_engine(self._options, visibility_history or [])

    # -- properties of the reference page ----------------------------------------------------

    @property
    def id(self) -> str:
        return self._params.id

    @property
    def name(self) -> str:
        return self._params.name

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def started_at(self) -> datetime:
        """When the activity was started (the call, even if Python was still booting: B1)."""
        return datetime_from_epoch_ms(self.started_at_ms)

    @property
    def started_at_ms(self) -> int:
        return self._ports.clock.time_origin + self._started

    @property
    def is_paused(self) -> bool:
        return self._engine is not None and self._engine.is_paused

    @property
    def is_ended(self) -> bool:
        """True once ``end()`` succeeded; then a new activity can be started."""
        return self._ended

    @property
    def elapsed_ms(self) -> int:
        """W7: active ms of the open window; 0 after each flush."""
        return self._engine.elapsed_ms(self._now()) if self._engine else 0

    @property
    def total_active_ms(self) -> int:
        """W7: active ms of all flushed windows plus the open one."""
        return self._engine.total_active_ms(self._now()) if self._engine else 0

    # -- methods of the reference page -------------------------------------------------------

    def pause(self, at: int | None = None) -> None:
        """Flush the open window, then stop heartbeats until ``resume()``; fires ``onPause``."""
        if self._engine and not self._ended:
            self._apply(self._engine.handle(Pause(self._at(at))))

    def resume(self, at: int | None = None) -> None:
        """Open a fresh window and restart heartbeats; fires ``onResume``."""
        if self._engine and not self._ended:
            self._apply(self._engine.handle(Resume(self._at(at))))

    # flushTimeSpent() and end() close the window when they are called, not when their
    # coroutine first runs: a call replayed after boot (B1) keeps its place among the
    # other replayed events. So they are plain methods that return an awaitable.

    def flush_time_spent(self, at: int | None = None) -> asyncio.Future[None]:
        """Send the open window now; await it to know it was attempted.

        A no-op when paused, ended or ``time: false``. Serialized with every other send (W6).
        Failures go to ``onError`` and never raise: time-spent errors are not fatal (R2).
        """
        if self._engine is None or self._ended or self._engine.is_paused:
            return _resolved()
        sent = self._apply(self._engine.handle(Flush(self._at(at))))
        return asyncio.ensure_future(self._wait_for(sent))

    def end(
        self, data: Mapping[str, Any] | CompletionData | None = None, at: int | None = None
    ) -> asyncio.Future[None]:
        """Final flush, then the completion when ``data`` is given; await the result.

        Bad ``data`` raises ``TrackerValidationError`` at once, before anything is sent.
        A failed completion calls ``onError`` with ``{type: 'completion'}`` and raises; the
        activity stays usable and ``end()`` may be called again (R2).
        """
        if self._ended:
            return _resolved()
        completion = None if data is None else self._completion(data)
        if self._ending is not None and not self._ending.done():
            return self._ending  # one completion for concurrent calls
        now = self._at(at)
        self._closing = True
        sent: list[asyncio.Future[bool]] = []
        if self._engine is not None:
            if completion is not None and completion.time is not None:
                self._engine.handle(DiscardOpenWindow(now))  # the override replaces tracked time
            else:
                sent = self._apply(self._engine.handle(End(now)))
        if completion is not None and completion.time is not None:
            sent = self._send_override(completion.time, now)
        self._schedule()  # cancels the timer (the override path applies no effects)
        self._ending = asyncio.ensure_future(self._complete(completion, now, sent))
        return self._ending

    # -- flush from the page events (browser adapter calls these) ---------------------------

    def on_visibility(self, hidden: bool, at: int) -> None:
        self._page_event(VisibilityChanged(hidden, at))

    def on_page_hide(self, at: int) -> None:
        self._page_event(PageHide(at))

    def on_page_show(self, at: int) -> None:
        self._page_event(PageShow(at))

    def _page_event(self, event: Event) -> None:
        """The browser decides the order of page events; one the engine does not take now
        (a ``pageshow`` with no ``pagehide`` before it) is logged, not raised into the page's
        event handler. Calls of the page's own code go through ``handle`` and do raise."""
        if self._engine is None or self._ended:
            return
        try:
            effects = self._engine.handle(event)
        except ProtocolError as exc:
            log.warning("tracker: ignored a page event: %s", exc)
            return
        self._apply(effects)

    # -- internals ---------------------------------------------------------------------------

    def _start_engine(self, options: TimeOptions, history: list[tuple[int, bool]]) -> None:
        page = self._ports.page
        # B2: the visibility state at the call, then every change since (boot reconstruction).
        hidden_at_start = page.is_hidden() if not history else history[0][1]
        engine = TimeEngine(options, self._started, hidden=hidden_at_start)
        self._engine = engine
        for at, hidden in history[1:]:
            self._apply(engine.handle(VisibilityChanged(hidden, at)), schedule=False)
        # H3: no visibility handler at all when visibilityAware is off.
        if options.visibility_aware:
            self._unsubscribe.append(page.on_visibility(self.on_visibility))
        self._unsubscribe.append(page.on_page_hide(self.on_page_hide))
        self._unsubscribe.append(page.on_page_show(self.on_page_show))
        # No tick to "now" here: calls queued during boot are replayed next with their own
        # times (B1); the timer (due at once if overdue) catches up after them.
        self._schedule()

    async def _complete(
        self, completion: CompletionData | None, now: int, sent: list[asyncio.Future[bool]]
    ) -> None:
        try:
            await self._wait_for(sent)
            if completion is not None:
                body = self._submit_body(completion, now)
                url = self._ports.submit_url
                try:
                    await self._ports.outbox.request(url, body, self._policy)
                except DeliveryError as exc:
                    self._report_error(exc, "completion")
                    raise
                self._failed_completion = None
        except BaseException:
            # R2: the activity stays usable; the window opened at the end goes on.
            self._closing = False
            self._schedule()
            raise
        self._finish()

    def _finish(self) -> None:
        self._ended = True
        if self._timer:
            self._timer.cancel()
            self._timer = None
        for unsubscribe in self._unsubscribe:
            try:
                unsubscribe()
            except Exception:
                log.exception("tracker: removing a listener failed")
        self._unsubscribe.clear()
        if self._engine:
            self._engine.handle(Close())
        self._ports.on_ended(self)

    def _completion(self, data: Mapping[str, Any] | CompletionData) -> CompletionData:
        if isinstance(data, CompletionData):
            return data
        return validate(CompletionData, dict(data))

    def _submit_body(self, completion: CompletionData, now: int) -> str:
        if self._failed_completion and self._failed_completion[0] == completion:
            ended_at = self._failed_completion[1]
        else:
            ended_at = iso_from_epoch_ms(self._ports.clock.time_origin + now)
        self._failed_completion = (completion, ended_at)
        params = self._params
        return submit_json(
            activity_id=params.id,
            name=params.name,
            course=params.course,
            run_id=self._run_id,
            ended_at_iso=ended_at,
            completion=completion,
            process=params.process,
        )

    def heartbeat_body(self, window: Window) -> str:
        """wire §1 heartbeat: wall times from the monotonic clock (T3), so W2 holds exactly."""
        origin = self._ports.clock.time_origin
        params = self._params
        return heartbeat_json(
            activity_id=params.id,
            name=params.name,
            course=params.course,
            run_id=self._run_id,
            started_at=origin + window.started,
            ended_at=origin + window.ended,
            elapsed_ms=window.active_ms,
            paused_ms=window.paused_ms,
        )

    def _apply(self, effects: list[Effect], *, schedule: bool = True) -> list[asyncio.Future[bool]]:
        """Carry out engine effects: sends (in order) and callbacks; then re-arm the timer."""
        sent: list[asyncio.Future[bool]] = []
        for effect in effects:
            if isinstance(effect, SendWindow):
                sent.extend(self._send(effect))
            elif isinstance(effect, PauseChanged):
                callback = self._params.on_pause if effect.paused else self._params.on_resume
                if callback is not None:
                    self._call(callback)
        if schedule:
            self._schedule()
        return sent

    def _send_override(self, override: TimeOverride, now: int) -> list[asyncio.Future[bool]]:
        """``end({time})`` as one final window that ends now, then a submit without ``time``.

        The one form that reaches Caliper exactly once on this project's server and on the
        official one (which ignores ``time`` in a submit; see docs/compatibility.md). Sent
        once per activity: a retried ``end()`` after a failed completion must not add a
        second window with the same time.
        """
        if self._override_sent:
            return []
        self._override_sent = True
        active, inactive = override.active or 0, override.inactive or 0
        window = Window(now - active - inactive, now, active, inactive, FlushReason.MANUAL)
        return self._send(SendWindow(window, beacon=False))

    def _send(self, effect: SendWindow) -> list[asyncio.Future[bool]]:
        window = effect.window
        body = self.heartbeat_body(window)
        origin = self._ports.clock.time_origin
        key = window_key(iso_from_epoch_ms(origin + window.started), self._run_id)
        url = self._ports.heartbeat_url
        outbox = self._ports.outbox
        ended_at = origin + window.ended
        if effect.beacon:
            # P1: synchronous, inside the pagehide task
            outbox.send_now(key, url, body, ended_at=ended_at)
            return []
        on_flush = self._params.on_flush
        active = window.active_ms
        return [
            outbox.enqueue(
                key,
                url,
                body,
                ended_at=ended_at,
                policy=self._policy,
                on_ack=(lambda: self._call(on_flush, active)) if on_flush else (lambda: None),
                on_error=lambda exc: self._report_error(exc, "timeSpent"),
            )
        ]

    async def _wait_for(self, sent: list[asyncio.Future[bool]]) -> None:
        """Wait until these sends, and every one queued before them, were attempted."""
        if sent:
            await asyncio.gather(*sent)
        else:
            await self._ports.outbox.drain()

    def _schedule(self) -> None:
        if self._timer:
            self._timer.cancel()
            self._timer = None
        if self._engine is None or self._ended or self._closing:
            return
        deadline = self._engine.next_deadline()
        if deadline is not None:
            delay = max(0, deadline - self._now())
            self._timer = self._ports.scheduler.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._engine and not self._ended and not self._closing:
            self._apply(self._engine.handle(Tick(self._now())))

    def _report_error(self, error: Exception, kind: str) -> None:
        if self._params.on_error is None:
            log.warning("tracker: %s failed for %s: %s", kind, self.id, error)
            return
        context = {"type": kind, "activityId": self.id, "runId": self._run_id}
        self._call(self._params.on_error, error, context)

    def _call(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("tracker: a callback of activity %s raised", self.id)

    def _now(self) -> int:
        return self._ports.clock.now()

    def _at(self, at: int | None) -> int:
        return self._now() if at is None else at

    def __repr__(self) -> str:
        state = "ended" if self._ended else "paused" if self.is_paused else "running"
        return f"<Activity {self.id} run={self._run_id} {state}>"
