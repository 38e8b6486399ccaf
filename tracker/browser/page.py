"""The document's lifecycle events, handed to the engine with their own ``timeStamp`` (T2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import create_proxy

from ..ports import Unsubscribe
from ..timefmt import whole_ms


def _listen(target: Any, event: str, handler: Callable[[Any], None]) -> Unsubscribe:
    # The proxy is kept alive by the closure below and destroyed when the activity ends.
    proxy = create_proxy(handler)
    target.addEventListener(event, proxy)

    def remove() -> None:
        target.removeEventListener(event, proxy)
        proxy.destroy()

    return remove


def _stamp(event: Any) -> int:
    return whole_ms(event.timeStamp)


class DocumentEvents:
    def is_hidden(self) -> bool:
        return str(js.document.visibilityState) == "hidden"

    def on_visibility(self, handler: Callable[[bool, int], None]) -> Unsubscribe:
        return _listen(
            js.document, "visibilitychange", lambda event: handler(self.is_hidden(), _stamp(event))
        )

    def on_page_hide(self, handler: Callable[[int], None]) -> Unsubscribe:
        # Synchronous on purpose: an await inside pagehide may never resume (P1).
        return _listen(js.window, "pagehide", lambda event: handler(_stamp(event)))

    def on_page_show(self, handler: Callable[[int], None]) -> Unsubscribe:
        def restored(event: Any) -> None:
            if bool(event.persisted):  # a first load is not a restore (P2)
                handler(_stamp(event))

        return _listen(js.window, "pageshow", restored)
