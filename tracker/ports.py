"""What the tracker needs from its surroundings. The browser adapter implements these with
``performance``, ``setTimeout``, ``fetch``/``sendBeacon`` and ``localStorage``; tests use fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int:
        """Monotonic milliseconds (``performance.now()``, rounded): all durations (T1)."""
        ...

    @property
    def time_origin(self) -> int:
        """Epoch ms at ``now() == 0`` (``performance.timeOrigin``): wall times (T3)."""
        ...


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` once after ``delay_ms`` (a trigger only; the engine uses timestamps)."""
        ...

    async def sleep(self, delay_ms: int) -> None:
        """Wait between retries (R1)."""
        ...


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer. ``status`` is ``None`` when the request got no answer at all.
    ``headers``: those of ``REPLY_HEADERS`` the answer carried, names in lower case."""

    status: int | None
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


# The answer headers delivery acts on (identity tag, lasting dedupe, 429 back-off).
REPLY_HEADERS = ("x-tracker-subject", "x-tracker-dedupe", "retry-after")


class Transport(Protocol):
    async def post(self, url: str, body: str, headers: Mapping[str, str] | None = None) -> Reply:
        """POST a JSON body with the page's credentials and any extra ``headers``; never
        raises for HTTP or network errors."""
        ...

    def beacon(self, url: str, body: str) -> bool:
        """``navigator.sendBeacon`` (``application/json``); ``False`` when the browser refuses."""
        ...

    def post_keepalive(self, url: str, body: str, on_reply: Callable[[Reply], None]) -> None:
        """``fetch(..., {keepalive: true})``: survives the page; ``on_reply`` if the page does."""
        ...


class Storage(Protocol):
    """A string key-value store that outlives the page (``localStorage``). May raise when full
    or disabled; callers treat it as best effort."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def remove(self, key: str) -> None: ...

    def list_keys(self) -> list[str]: ...


Unsubscribe = Callable[[], None]


class PageEvents(Protocol):
    """The document's lifecycle. Handlers get the event's ``timeStamp`` in clock ms (T2)."""

    def is_hidden(self) -> bool: ...

    def on_visibility(self, handler: Callable[[bool, int], None]) -> Unsubscribe:
        """``visibilitychange``: ``handler(hidden, at)``."""
        ...

    def on_page_hide(self, handler: Callable[[int], None]) -> Unsubscribe:
        """``pagehide``: ``handler(at)``; must act synchronously (P1)."""
        ...

    def on_page_show(self, handler: Callable[[int], None]) -> Unsubscribe:
        """``pageshow`` with ``persisted`` (back/forward cache restore): ``handler(at)``."""
        ...
