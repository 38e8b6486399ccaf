"""Timers on ``setTimeout``: a trigger only; the engine places boundaries by timestamps (H1)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import js
from pyodide.ffi import JsProxy, create_proxy

# setTimeout stores its delay in a signed 32-bit integer; longer delays fire at once.
_MAX_DELAY_MS = 2**31 - 1


class BrowserTimer:
    def __init__(self, delay_ms: int, callback: Callable[[], None]) -> None:
        self._callback = callback
        self._proxy: JsProxy | None = create_proxy(self._fire)
        self._id = js.setTimeout(self._proxy, min(max(0, delay_ms), _MAX_DELAY_MS))

    def _fire(self) -> None:
        self._release()
        self._callback()

    def cancel(self) -> None:
        if self._proxy is not None:
            js.clearTimeout(self._id)
            self._release()

    def _release(self) -> None:
        # A proxy handed to JS must be destroyed by us, or it leaks (Pyodide FFI).
        if self._proxy is not None:
            self._proxy.destroy()
            self._proxy = None


class BrowserScheduler:
    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> BrowserTimer:
        return BrowserTimer(delay_ms, callback)

    async def sleep(self, delay_ms: int) -> None:
        # Pyodide's event loop sleeps with setTimeout, so a faked page clock drives it too.
        await asyncio.sleep(delay_ms / 1000)
