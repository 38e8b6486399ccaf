"""Sending to the app server: ``fetch`` normally, ``sendBeacon`` or keepalive on page exit (P1)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import js
from pyodide.ffi import JsException, to_js

from ..ports import REPLY_HEADERS, Reply

_JSON = "application/json"
_TEXT = "text/plain;charset=UTF-8"
# Sends are serialized (W6): a request that hangs would hold back every later window, so
# it is given up after this long and counts as "no answer" (kept, sent again later: P3).
REQUEST_TIMEOUT_MS = 30_000


def _cross_origin(url: str) -> bool:
    return str(js.URL.new(url, js.location.href).origin) != str(js.location.origin)


def _exit_type(url: str) -> str:
    # A beacon or keepalive request cannot wait for a CORS preflight: to an API on another
    # origin it goes as text/plain (a "simple" request), which the server reads as JSON.
    return _TEXT if _cross_origin(url) else _JSON


def _options(
    body: str,
    *,
    keepalive: bool = False,
    content_type: str = _JSON,
    headers: Mapping[str, str] | None = None,
) -> Any:
    options: dict[str, Any] = {
        "method": "POST",
        "body": body,
        "headers": {"Content-Type": content_type, **(headers or {})},
        # The server finds the student from the session cookie (wire §1, Identity), also
        # when the API is on another origin than the lesson (CORS with credentials).
        "credentials": "include",
        "keepalive": keepalive,
    }
    if not keepalive:
        options["signal"] = js.AbortSignal.timeout(REQUEST_TIMEOUT_MS)
    return to_js(options, dict_converter=js.Object.fromEntries)


def _headers(response: Any) -> dict[str, str]:
    """The answer headers delivery acts on (identity tag, lasting dedupe, Retry-After)."""
    # has() first: get() answers JavaScript null for a missing header, which is not None.
    headers = response.headers
    return {name: str(headers.get(name)) for name in REPLY_HEADERS if headers.has(name)}


class FetchTransport:
    def __init__(self) -> None:
        self._pending: set[asyncio.Future[None]] = set()

    async def post(self, url: str, body: str, headers: Mapping[str, str] | None = None) -> Reply:
        try:
            response = await js.fetch(url, _options(body, headers=headers))
            text = await response.text()
        except JsException as exc:  # network error, server down, CORS: no answer at all
            return Reply(None, str(exc))
        return Reply(int(response.status), str(text), _headers(response))

    def beacon(self, url: str, body: str) -> bool:
        # A Blob carries the JSON content type (text/plain to another origin: _exit_type).
        blob = js.Blob.new(
            to_js([body]), to_js({"type": _exit_type(url)}, dict_converter=js.Object.fromEntries)
        )
        return bool(js.navigator.sendBeacon(url, blob))

    def post_keepalive(self, url: str, body: str, on_reply: Callable[[Reply], None]) -> None:
        # fetch() is called here, inside the pagehide task (P1); only the answer, if the page
        # lives to see it, is awaited later.
        promise = js.fetch(url, _options(body, keepalive=True, content_type=_exit_type(url)))

        async def settle() -> None:
            try:
                response = await promise
            except JsException as exc:
                on_reply(Reply(None, str(exc)))
                return
            on_reply(Reply(int(response.status)))

        task = asyncio.ensure_future(settle())
        self._pending.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._pending.discard)
