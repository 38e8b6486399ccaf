"""What ``timeback.js`` calls: the reference API for JavaScript pages.

JavaScript objects come in as ``JsProxy``; callbacks are called with JavaScript values
(``onError(Error, {type, activityId, runId})``); failures reach JavaScript as ``Error``s
whose ``name`` is the Python class and ``field`` the offending field, never a traceback.
Every method that a page can call while Python boots takes ``at``, the time of the call.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import js
from pyodide.ffi import JsException, JsProxy, jsnull, to_js

from ..activity import Activity
from ..errors import TrackerError
from ..timefmt import whole_ms
from .api import activity as api
from .boot import BootEvent, BootEventKind, plan_handover

_CALLBACKS = {"onError", "onPause", "onResume", "onFlush"}


def _js_object(value: dict[str, Any]) -> Any:
    return to_js(value, dict_converter=js.Object.fromEntries)


def js_error(exc: BaseException) -> Any:
    """A JavaScript ``Error`` for a Python exception: message, name and the field at fault."""
    if isinstance(exc, JsException):
        return exc  # a JavaScript error that passed through Python: hand back the original
    if not isinstance(exc, TrackerError):
        traceback.print_exception(exc)  # a bug, not a usage error: keep its traceback
    error = js.Error.new(str(exc))
    error.name = type(exc).__name__
    for attribute in ("field", "status"):
        value = getattr(exc, attribute, None)
        if value is not None:
            setattr(error, attribute, value)
    return error


# Pyodide 314 turns any exception that crosses into JavaScript into a PythonError whose
# message is a traceback, even a raised JS Error. So timeback.js calls Python through
# these three functions: the exception stays here and JavaScript gets an Error made of it.
_last_error: Any = None


def _keywords(at: float | None) -> dict[str, int]:
    # ``at`` is the performance.now() of a call queued during boot (B1).
    return {} if at is None else {"at": whole_ms(at)}


def call(target: Any, name: str, at: float | None, *args: Any) -> Any:
    """``target.name(*args)``; on failure ``take_error()`` has the JavaScript Error."""
    global _last_error
    try:
        return getattr(target, name)(*args, **_keywords(at))
    except Exception as exc:
        _last_error = js_error(exc)
        raise


def take_error() -> Any:
    global _last_error
    error, _last_error = _last_error, None
    return error


def call_async(target: Any, name: str, at: float | None, *args: Any) -> Any:
    """Calls ``target.name(*args)`` now and gives JavaScript something to await that
    settles with ``None`` or the JavaScript Error, instead of rejecting with a traceback."""
    try:
        pending = getattr(target, name)(*args, **_keywords(at))
    except Exception as exc:
        return js_error(exc)
    return asyncio.ensure_future(_settled(pending))


async def _settled(pending: Awaitable[Any]) -> Any:
    try:
        await pending
    except Exception as exc:
        return js_error(exc)
    return None


def _wrap_callback(name: str, function: Any) -> Callable[..., Any]:
    if name == "onError":
        return lambda error, context: function(js_error(error), _js_object(context))
    return lambda *args: function(*args)


def to_python(value: Any) -> Any:
    """A JavaScript value as plain Python. Pyodide turns ``null`` into ``jsnull``, not
    ``None``, but the reference uses ``null`` as a value (``hiddenTimeoutMs: null``), so it
    becomes ``None`` at every depth. Functions stay callable proxies."""
    if isinstance(value, JsProxy) and not callable(value):
        value = value.to_py()
    if value is jsnull:
        return None
    if isinstance(value, dict):
        return {key: to_python(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_python(item) for item in value]
    return value


def _params(params: Any) -> dict[str, Any]:
    """The page's object as a dict, with its callbacks calling back with JavaScript values."""
    data: dict[str, Any] = dict(to_python(params) or {})
    for key in _CALLBACKS & data.keys():
        if data[key] is not None:
            data[key] = _wrap_callback(key, data[key])
    return data


class JsActivity:
    """The Python activity as JavaScript reads it (``timeback.js`` maps the names)."""

    def __init__(self, inner: Activity, pending: list[BootEvent]) -> None:
        self._inner = inner
        self._pending = pending  # boot log entries not yet fed: interleaved with replayed calls
        self._ending: Awaitable[None] | None = None

    def _catch_up(self, at: int | None = None) -> None:
        while self._pending and (at is None or self._pending[0].at <= at):
            event = self._pending.pop(0)
            if event.kind is BootEventKind.VISIBILITY:
                self._inner.on_visibility(event.hidden, event.at)
            elif event.kind is BootEventKind.PAGE_HIDE:
                self._inner.on_page_hide(event.at)
            else:
                self._inner.on_page_show(event.at)

    def replayed(self) -> None:
        """Boot replay is over: feed what is left, then trust ``document`` from now on.

        Not after an ``end()`` that was replayed and is still being delivered: the engine
        keeps a window open past the end only so that a failed completion leaves the
        activity usable (R2). Moving that window to now would flush it if boot outlasted
        ``flushIntervalMs`` since the end() call: a second heartbeat for time after end().
        """
        if self._ending is not None and not self._ending_done():
            self._pending.clear()
            return
        self._catch_up()
        tracker = api.tracker
        self._inner.on_visibility(tracker.page.is_hidden(), tracker.clock.now())

    def _ending_done(self) -> bool:
        ending = self._ending
        return isinstance(ending, asyncio.Future) and ending.done()

    @property
    def id(self) -> str:
        return self._inner.id

    @property
    def run_id(self) -> str:
        return self._inner.run_id

    @property
    def started_at_ms(self) -> int:
        return self._inner.started_at_ms

    @property
    def is_paused(self) -> bool:
        return self._inner.is_paused

    @property
    def is_ended(self) -> bool:
        return self._inner.is_ended

    @property
    def elapsed_ms(self) -> int:
        return self._inner.elapsed_ms

    @property
    def total_active_ms(self) -> int:
        return self._inner.total_active_ms

    def pause(self, at: int | None = None) -> None:
        self._catch_up(at)
        self._inner.pause(at)

    def resume(self, at: int | None = None) -> None:
        self._catch_up(at)
        self._inner.resume(at)

    def flush_time_spent(self, at: int | None = None) -> Awaitable[None]:
        self._catch_up(at)
        return self._inner.flush_time_spent(at)

    def end(self, data: Any = None, at: int | None = None) -> Awaitable[None]:
        self._catch_up(at)
        self._ending = self._inner.end(to_python(data), at)
        return self._ending


class Bridge:
    def __init__(self) -> None:
        self._current: JsActivity | None = None

    async def ready(self) -> None:
        await api.ready()

    def start(self, params: Any, handover: Any = None, at: int | None = None) -> JsActivity:
        """``handover`` comes with a start queued during boot: the embed's boot log and
        where its boot-window beacon left off (tracker/browser/boot.py)."""
        now = api.tracker.clock.now()
        called_at = now if at is None else min(now, at)
        boot = to_python(handover)
        if not boot:
            inner = api.start(_params(params), called_at=called_at)
            self._current = JsActivity(inner, [])
            return self._current
        plan = plan_handover(boot, called_at, now)
        # The state at the engine's start; later entries are fed in time order with the
        # replayed calls; entries after now arrive as live events instead.
        inner = api.start(
            _params(params),
            called_at=plan.begin,
            visibility_history=[(plan.begin, plan.hidden_at_begin)],
        )
        self._current = JsActivity(inner, plan.events)
        return self._current

    def current(self) -> JsActivity | None:
        inner = api.current
        if inner is None:
            return None
        if self._current is None or self._current._inner is not inner:
            self._current = JsActivity(inner, [])
        return self._current


def install(options: Any = None) -> Bridge:
    """Called once by ``timeback.js`` with ``{base, configUrl}``."""
    settings = to_python(options) or {}
    api.configure(
        base=settings.get("base") or "/api/timeback", config_url=settings.get("configUrl")
    )
    return Bridge()
