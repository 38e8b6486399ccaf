"""The delivery driver: carries out what ``delivery.DeliveryQueue`` decides, with the ports.

Every decision (order, retries, what to keep, whom to tell) is the queue's; this module only
stores and removes records, posts bodies, arms the one retry timer, calls the page's
callbacks and settles the futures that ``flushTimeSpent()`` and ``end()`` await.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .delivery import (
    KEY_PREFIX,
    Acknowledge,
    DeliveryQueue,
    Effect,
    Forget,
    RememberLastingDedupe,
    ReportError,
    Send,
    Settled,
    Store,
    StoredWindow,
    Wait,
    parse_record,
)
from .errors import DeliveryError
from .ports import Clock, Reply, Scheduler, Storage, TimerHandle, Transport
from .retry import RetryPolicy
from .wire import REPLAY_HEADER, REPLAY_UNTAGGED

log = logging.getLogger("tracker")

# localStorage flag, per API base: its server said ``X-Tracker-Dedupe: lasting``.
LASTING_DEDUPE_PREFIX = "timeback.dedupe-lasting."


@dataclass(slots=True)
class _Ticket:
    """Someone in this page waits for a window or a request.

    A window's ticket outlives a failed attempt (its future settles, the window stays
    stored), so that a later delivery in this page still calls ``on_ack`` (``onFlush``).
    """

    on_ack: Callable[[], None]
    on_error: Callable[[DeliveryError], None]
    done: asyncio.Future[DeliveryError | None] = field(
        default_factory=lambda: asyncio.get_event_loop().create_future()
    )

    def settle(self, error: DeliveryError | None) -> None:
        if not self.done.done():
            self.done.set_result(error)


_NOT_DELIVERED = DeliveryError("not delivered")


class Outbox:
    """Serialized, durable delivery to the app server for one page."""

    def __init__(
        self,
        transport: Transport,
        scheduler: Scheduler,
        storage: Storage,
        clock: Clock,
        *,
        base_url: str = "",
    ) -> None:
        self._transport = transport
        self._scheduler = scheduler
        self._storage = storage
        self._clock = clock
        self._lasting_key = LASTING_DEDUPE_PREFIX + base_url
        self._queue = DeliveryQueue(
            lasting_dedupe=self._read(self._lasting_key) == "1", page=clock.time_origin
        )
        self._tickets: dict[str, _Ticket] = {}
        # Windows that could not be stored (storage full or disabled) still go out once.
        self._memory: dict[str, str] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        self._idle: list[asyncio.Future[None]] = []
        self._timer: TimerHandle | None = None
        self._timer_at: int | None = None
        self._requests = itertools.count()

    # -- what the activity calls -----------------------------------------------------------

    def enqueue(
        self,
        key: str,
        url: str,
        body: str,
        *,
        ended_at: int,
        policy: RetryPolicy,
        on_ack: Callable[[], None],
        on_error: Callable[[DeliveryError], None],
    ) -> asyncio.Future[bool]:
        """Store a window and have it delivered in order; the future says whether it was."""
        ticket = _Ticket(on_ack, on_error)
        self._tickets[key] = ticket
        # What storage holds first: windows of other tabs and earlier loads go before it.
        self._apply(self._queue.load(self._stored(), self._now()))
        added = self._queue.add_window(
            key, url, body, ended_at=ended_at, policy=policy, now=self._now()
        )
        self._apply(added)
        return asyncio.ensure_future(self._delivered(ticket))

    def send_now(self, key: str, url: str, body: str, *, ended_at: int) -> None:
        """Page exit (P1): store, then hand the window to the browser in this very task.

        ``sendBeacon`` gives no answer, so the window stays stored and is sent again later
        (P3); the ``fetch keepalive`` fallback removes it if the page lives to see the answer.
        """
        self._apply(self._queue.add_beaconed(key, url, body, ended_at=ended_at))
        try:
            if self._transport.beacon(url, body):
                return
        except Exception as exc:
            log.warning("tracker: sendBeacon failed: %s", exc)

        def on_reply(reply: Reply) -> None:
            if reply.ok:
                self._forget(key)

        try:
            self._transport.post_keepalive(url, body, on_reply)
        except Exception as exc:
            log.warning("tracker: keepalive fetch failed: %s", exc)

    async def request(self, url: str, body: str, policy: RetryPolicy) -> None:
        """A one-off request (a completion) in the same queue, after the windows before it."""
        key = f"request.{next(self._requests)}"
        ticket = _Ticket(lambda: None, lambda _: None)
        self._tickets[key] = ticket
        self._apply(self._queue.load(self._stored(), self._now()))
        self._apply(self._queue.add_request(key, url, body, policy=policy, now=self._now()))
        error = await ticket.done
        if error is not None:
            raise error

    async def drain(self) -> None:
        """Send every stored window, oldest first, until one cannot be delivered now (P3)."""
        self._apply(self._queue.load(self._stored(), self._now()))
        await self.idle()

    async def idle(self) -> None:
        """Until nothing is in flight and no retry is due."""
        if self._queue.busy:
            future: asyncio.Future[None] = asyncio.get_event_loop().create_future()
            self._idle.append(future)
            await future

    def subject_seen(self, subject: str | None) -> None:
        """The page learned who is signed in (a sign-in answer): windows of that user go."""
        self._apply(self._queue.subject_seen(subject, self._now()))

    # -- carrying out effects ---------------------------------------------------------------

    def _apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            match effect:
                case Store(window=window):
                    self._store(window)
                case Send():
                    self._spawn(self._post(effect))
                case Wait(until=until):
                    self._arm(until)
                case Acknowledge(key=key):
                    self._forget(key)
                    ticket = self._tickets.pop(key, None)
                    if ticket:
                        _safely(ticket.on_ack)
                        ticket.settle(None)
                case Forget(key=key, reason=reason):
                    log.warning("tracker: dropping window %s: %s", key, reason)
                    self._forget(key)
                    ticket = self._tickets.pop(key, None)
                    if ticket:
                        ticket.settle(_NOT_DELIVERED)
                case ReportError(key=key, error=error):
                    ticket = self._tickets.get(key)
                    if ticket:
                        _safely(ticket.on_error, error)
                case Settled(key=key, delivered=delivered, error=error):
                    ticket = self._tickets.get(key)
                    if ticket is None:
                        continue
                    if delivered or key.startswith("request."):
                        del self._tickets[key]
                    ticket.settle(None if delivered else error or _NOT_DELIVERED)
                case RememberLastingDedupe():
                    self._write(self._lasting_key, "1")
        if not self._queue.busy:
            waiting, self._idle = self._idle, []
            for future in waiting:
                if not future.done():
                    future.set_result(None)

    async def _post(self, send: Send) -> None:
        if send.stored and self._load(send.key) is None:
            self._apply(self._queue.vanished(send.key, self._now()))
            return
        try:
            headers = {REPLAY_HEADER: REPLAY_UNTAGGED} if send.replay else None
            reply = await self._transport.post(send.url, send.body, headers)
        except Exception as exc:  # a transport must not raise; if it does, it is no answer
            reply = Reply(None, str(exc))
        self._apply(self._queue.reply(send.key, reply, self._now()))

    def _arm(self, until: int) -> None:
        """The one timer delivery needs: the next retry (R1) or the end of a Retry-After."""
        if self._timer is not None and self._timer_at is not None and self._timer_at <= until:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = until

        def fire() -> None:
            self._timer = self._timer_at = None
            self._apply(self._queue.tick(self._now()))

        self._timer = self._scheduler.call_later(max(0, until - self._now()), fire)

    def _spawn(self, coroutine: Any) -> None:
        # The loop keeps only weak references to tasks: hold it until it is done.
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _delivered(self, ticket: _Ticket) -> bool:
        return await ticket.done is None

    def _now(self) -> int:
        """Epoch ms from the monotonic clock (T3): the queue's time line."""
        return self._clock.time_origin + self._clock.now()

    # -- storage, best effort ----------------------------------------------------------------

    def _store(self, window: StoredWindow) -> None:
        record = window.record()
        try:
            self._storage.set(window.key, record)
        except Exception as exc:  # quota exceeded, storage disabled: keep it for this page
            log.warning("tracker: could not store window %s: %s", window.key, exc)
            self._memory[window.key] = record

    def _load(self, key: str) -> str | None:
        record = self._memory.get(key)
        return record if record is not None else self._read(key)

    def _stored(self) -> list[StoredWindow]:
        try:
            keys = [k for k in self._storage.list_keys() if k.startswith(KEY_PREFIX)]
        except Exception:
            keys = []
        windows: list[StoredWindow] = []
        for key in sorted(set(keys) | set(self._memory)):
            record = self._load(key)
            if record is None:
                continue
            window = parse_record(key, record)
            if window is None:
                log.warning("tracker: dropping unreadable stored window %s", key)
                self._forget(key)
                continue
            windows.append(window)
        return windows

    def _forget(self, key: str) -> None:
        self._memory.pop(key, None)
        try:
            self._storage.remove(key)
        except Exception:
            log.warning("tracker: could not remove stored window %s", key)

    def _read(self, key: str) -> str | None:
        try:
            return self._storage.get(key)
        except Exception:
            return None

    def _write(self, key: str, value: str) -> None:
        try:
            self._storage.set(key, value)
        except Exception:
            log.warning("tracker: could not write %s", key)


def _safely(callback: Callable[..., Any], *args: Any) -> None:
    """A page's callback must not break delivery."""
    try:
        callback(*args)
    except Exception:
        log.exception("tracker: a callback raised")
