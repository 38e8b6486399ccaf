"""Fake ports: a clock that moves only when told, timers that fire in order, a scripted server."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tracker.config import AppConfig
from tracker.outbox import LASTING_DEDUPE_PREFIX
from tracker.page_tracker import DEFAULT_BASE, Tracker
from tracker.ports import Reply

T = TypeVar("T")
ORIGIN = 1_769_508_000_000  # 2026-01-27T10:00:00.000Z


class FakeClock:
    def __init__(self, now: int = 0, time_origin: int = ORIGIN) -> None:
        self._now = now
        self._origin = time_origin

    def now(self) -> int:
        return self._now

    def set(self, now: int) -> None:
        self._now = now

    @property
    def time_origin(self) -> int:
        return self._origin


@dataclass(order=True)
class _Timer:
    when: int
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class FakeScheduler:
    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._heap: list[_Timer] = []
        self._seq = itertools.count()

    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(self._clock.now() + max(0, delay_ms), next(self._seq), callback)
        heapq.heappush(self._heap, timer)
        return timer

    async def sleep(self, delay_ms: int) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        self.call_later(delay_ms, wake)
        await future

    def next_due(self) -> int | None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].when if self._heap else None

    def pop_due(self, until: int) -> _Timer | None:
        when = self.next_due()
        if when is None or when > until:
            return None
        return heapq.heappop(self._heap)

    @property
    def pending(self) -> int:
        return sum(1 for t in self._heap if not t.cancelled)


@dataclass
class Sent:
    url: str
    body: str
    via: str  # "fetch", "beacon", "keepalive"
    at: int
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class FakeServer:
    """Answers like the app server: 204, 200 duplicate (runId+startedAt), or scripted failures."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self.requests: list[Sent] = []
        self.fail_next: list[int | None] = []  # statuses (None = no answer) for the next posts
        self.fail_submits: list[int | None] = []  # the same, for completions only
        self.down = False
        self.beacon_accepts = True
        self.hold: asyncio.Event | None = None  # when set, posts wait for it (one in flight)
        self.in_flight = 0
        self.max_in_flight = 0
        self.windows: dict[tuple[str, str], dict[str, Any]] = {}
        self.completions: list[dict[str, Any]] = []
        self.keepalive_replies: list[Callable[[], None]] = []
        # Like this project's server: its dedupe never forgets (contract item 4).
        self.lasting_dedupe = True
        self.subject: str | None = None  # the X-Tracker-Subject of every answer
        # When set: the 403 code answering every replayed window (X-Tracker-Replay).
        self.refuse_replays: str | None = None

    def _headers(self, url: str) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.lasting_dedupe and url.endswith("/activity/heartbeat"):
            headers["x-tracker-dedupe"] = "lasting"
        if self.subject is not None:
            headers["x-tracker-subject"] = self.subject
        return headers

    def _receive(self, url: str, body: str) -> Reply:
        reply = self._answer(url, body)
        return Reply(reply.status, reply.body, self._headers(url))

    def _answer(self, url: str, body: str) -> Reply:
        data = json.loads(body)
        if url.endswith("/activity/heartbeat"):
            key = (data["runId"], data["startedAt"])
            if key in self.windows:
                assert self.windows[key] == data, "a resend must be byte-identical"
                return Reply(200, '{"duplicate":true}')
            self.windows[key] = data
            return Reply(204)
        self.completions.append(data)
        return Reply(204)

    async def post(self, url: str, body: str, headers: Mapping[str, str] | None = None) -> Reply:
        self.requests.append(Sent(url, body, "fetch", self._clock.now(), dict(headers or {})))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.hold is not None:
                await self.hold.wait()
            if self.down:
                return Reply(None, "connection refused")
            if self.refuse_replays and headers and "X-Tracker-Replay" in headers:
                refusal = json.dumps({"error": {"code": self.refuse_replays, "message": "no"}})
                return Reply(403, refusal, self._headers(url))
            failures = self.fail_submits if url.endswith("/submit") else []
            if self.fail_next or failures:
                status = (failures or self.fail_next).pop(0)
                body_text = json.dumps({"error": {"code": "X", "message": "scripted"}})
                if status is None:
                    return Reply(None, "network error")
                return Reply(status, body_text, self._headers(url))
            return self._receive(url, body)
        finally:
            self.in_flight -= 1

    def beacon(self, url: str, body: str) -> bool:
        self.requests.append(Sent(url, body, "beacon", self._clock.now()))
        if not self.beacon_accepts:
            return False
        if not self.down:
            self._receive(url, body)
        return True

    def post_keepalive(self, url: str, body: str, on_reply: Callable[[Reply], None]) -> None:
        self.requests.append(Sent(url, body, "keepalive", self._clock.now()))
        reply = Reply(None) if self.down else self._receive(url, body)
        self.keepalive_replies.append(lambda: on_reply(reply))

    @property
    def heartbeats(self) -> list[dict[str, Any]]:
        """Distinct windows received, in the order they first arrived."""
        return list(self.windows.values())

    def total_active(self) -> int:
        return sum(w["elapsedMs"] for w in self.windows.values())


class FakeStorage:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.broken = False

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def set(self, key: str, value: str) -> None:
        if self.broken:
            raise OSError("QuotaExceededError")
        self.data[key] = value

    def remove(self, key: str) -> None:
        self.data.pop(key, None)

    def list_keys(self) -> list[str]:
        return list(self.data)

    @property
    def windows(self) -> dict[str, str]:
        """The kept windows (P3), without the tracker's other flags."""
        return {k: v for k, v in self.data.items() if k.startswith("timeback.window.")}


class FakePage:
    def __init__(self, hidden: bool = False) -> None:
        self.hidden = hidden
        self.handlers: dict[str, list[Callable[..., None]]] = {
            "visibility": [],
            "pagehide": [],
            "pageshow": [],
        }

    def is_hidden(self) -> bool:
        return self.hidden

    def _add(self, kind: str, handler: Callable[..., None]) -> Callable[[], None]:
        self.handlers[kind].append(handler)
        return lambda: self.handlers[kind].remove(handler)

    def on_visibility(self, handler: Callable[[bool, int], None]) -> Callable[[], None]:
        return self._add("visibility", handler)

    def on_page_hide(self, handler: Callable[[int], None]) -> Callable[[], None]:
        return self._add("pagehide", handler)

    def on_page_show(self, handler: Callable[[int], None]) -> Callable[[], None]:
        return self._add("pageshow", handler)

    @property
    def listener_count(self) -> int:
        return sum(len(h) for h in self.handlers.values())


class Env:
    """A page with fake ports; ``await env.advance(ms)`` moves time, firing timers in order."""

    def __init__(
        self,
        *,
        hidden: bool = False,
        config: AppConfig | None = None,
        storage: FakeStorage | None = None,
        start_at: int = 1000,
        knows_server: bool = True,
        time_origin: int = ORIGIN,
    ) -> None:
        self.clock = FakeClock(start_at, time_origin)
        self.scheduler = FakeScheduler(self.clock)
        self.server = FakeServer(self.clock)
        self.storage = storage or FakeStorage()
        # An earlier page load met this server and its lasting dedupe (contract item 4);
        # the 5-minute horizon of an unknown server has its own table tests.
        if knows_server:
            self.storage.data.setdefault(LASTING_DEDUPE_PREFIX + DEFAULT_BASE, "1")
        self.page = FakePage(hidden)
        self.tracker = Tracker(
            clock=self.clock,
            scheduler=self.scheduler,
            transport=self.server,
            storage=self.storage,
            page=self.page,
            config=config,
        )

    @property
    def now(self) -> int:
        return self.clock.now()

    async def settle(self) -> None:
        """Let every ready task run (sends complete at once unless the server holds them)."""
        for _ in range(60):
            await asyncio.sleep(0)

    async def advance(self, ms: int) -> None:
        await self.run_until(self.clock.now() + ms)

    async def run_until(self, target: int) -> None:
        await self.settle()
        while (timer := self.scheduler.pop_due(target)) is not None:
            self.clock.set(max(self.clock.now(), timer.when))
            timer.callback()
            await self.settle()
        self.clock.set(target)
        await self.settle()

    async def complete(self, awaitable: Awaitable[T], step: int = 50) -> T:
        """Await something that may wait on fake timers (retry delays), moving time as needed."""
        task = asyncio.ensure_future(awaitable)
        for _ in range(100_000):
            await self.settle()
            if task.done():
                return task.result()
            await self.advance(step)
        raise AssertionError("never completed")

    def set_hidden(self, hidden: bool, at: int | None = None) -> None:
        """A visibilitychange whose event timeStamp is ``at`` (default: now)."""
        self.page.hidden = hidden
        for handler in list(self.page.handlers["visibility"]):
            handler(hidden, self.now if at is None else at)

    def page_hide(self) -> None:
        for handler in list(self.page.handlers["pagehide"]):
            handler(self.now)

    def page_show(self) -> None:
        for handler in list(self.page.handlers["pageshow"]):
            handler(self.now)

    def reload(self) -> Env:
        """A new page load of the same origin: same storage and server, fresh everything else."""
        # The storage says what the earlier load learned about the server.
        other = Env(
            storage=self.storage,
            start_at=0,
            config=self.tracker.config,
            knows_server=False,
            time_origin=self.clock.time_origin + self.now + 500,  # also the new page's id
        )
        other.server = self.server
        other.server._clock = other.clock
        other.tracker.outbox._transport = other.server
        return other


COURSE = {"subject": "Math", "grade": 3}
BASE_PARAMS: dict[str, Any] = {"id": "fractions-1", "name": "Fractions", "course": COURSE}
