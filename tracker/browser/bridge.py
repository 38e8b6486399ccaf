"""What ``timeback.js`` calls: the reference API for JavaScript pages.

JavaScript objects come in as ``JsProxy``; callbacks are called with JavaScript values
(``onError(Error, {type, activityId, runId})``); failures are thrown as JavaScript ``Error``s
whose ``name`` is the Python class and ``field`` the offending field, never a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import js
from pyodide.ffi import JsProxy, to_js

from ..activity import Activity
from ..errors import TrackerError
from ..models import CompletionData
from .api import activity as api
from .page import visibility_history

T = TypeVar("T")
_CALLBACKS = {"onError", "onPause", "onResume", "onFlush"}


def _js_object(value: dict[str, Any]) -> Any:
    return to_js(value, dict_converter=js.Object.fromEntries)


def js_error(exc: BaseException) -> Any:
    """A JavaScript ``Error`` for a Python exception: message, name and the field at fault."""
    error = js.Error.new(str(exc))
    error.name = type(exc).__name__
    field = getattr(exc, "field", None)
    if field is not None:
        error.field = field
    status = getattr(exc, "status", None)
    if status is not None:
        error.status = status
    return error


def _raise_as_js(exc: BaseException) -> None:
    """Pyodide throws a raised ``JsProxy`` of an Error as that very Error in JavaScript."""
    raise js_error(exc) from exc


def _guard(call: Callable[[], T]) -> T:
    try:
        return call()
    except TrackerError as exc:
        _raise_as_js(exc)
        raise  # unreachable; keeps type checkers content


async def _guard_async(awaitable: Awaitable[T]) -> T:
    try:
        return await awaitable
    except TrackerError as exc:
        _raise_as_js(exc)
        raise


def _wrap_callback(name: str, function: Any) -> Callable[..., Any]:
    if name == "onError":
        return lambda error, context: function(js_error(error), _js_object(context))
    return lambda *args: function(*args)


def _params(params: Any) -> dict[str, Any]:
    """The page's object as a dict; functions are kept as callables, not converted."""
    data = params.to_py(depth=1) if isinstance(params, JsProxy) else dict(params)
    for key, value in list(data.items()):
        if key in _CALLBACKS:
            data[key] = None if value is None else _wrap_callback(key, value)
        elif isinstance(value, JsProxy):
            data[key] = value.to_py()
    return data


class JsActivity:
    """The Python activity as JavaScript reads it (``timeback.js`` maps the names)."""

    def __init__(self, inner: Activity, history: list[tuple[int, bool]]) -> None:
        self._inner = inner
        self._history = history  # B2 entries not yet fed: interleaved with replayed calls

    def _catch_up(self, at: int | None = None) -> None:
        while self._history and (at is None or self._history[0][0] <= at):
            when, hidden = self._history.pop(0)
            self._inner.on_visibility(hidden, when)

    def replayed(self) -> None:
        """Boot replay is over: feed what is left, then trust ``document`` from now on."""
        self._catch_up()
        self._inner.on_visibility(
            str(js.document.visibilityState) == "hidden", round(float(js.performance.now()))
        )

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

    def pause(self, at: float | None = None) -> None:
        stamp = None if at is None else round(at)
        self._catch_up(stamp)
        self._inner.pause(stamp)

    def resume(self, at: float | None = None) -> None:
        stamp = None if at is None else round(at)
        self._catch_up(stamp)
        self._inner.resume(stamp)

    def flush_time_spent(self, at: float | None = None) -> asyncio.Future[None]:
        stamp = None if at is None else round(at)
        self._catch_up(stamp)
        return asyncio.ensure_future(_guard_async(self._inner.flush_time_spent(stamp)))

    def end(self, data: Any = None) -> asyncio.Future[None]:
        self._catch_up()
        completion: dict[str, Any] | CompletionData | None = None
        if data is not None:
            completion = data.to_py() if isinstance(data, JsProxy) else data
        return asyncio.ensure_future(_guard_async(self._inner.end(completion)))


class Bridge:
    def __init__(self) -> None:
        self._current: JsActivity | None = None

    async def ready(self) -> None:
        await api.ready()

    def start(self, params: Any, called_at: float | None = None) -> JsActivity:
        def start() -> JsActivity:
            now = round(float(js.performance.now()))
            at = now if called_at is None else min(now, round(called_at))
            history = visibility_history(at) if called_at is not None else []
            # The state at the call starts the engine; later entries are fed in time order
            # with the replayed calls; entries after now arrive as live events instead.
            inner = api.start(_params(params), called_at=at, visibility_history=history[:1])
            self._current = JsActivity(inner, [h for h in history[1:] if h[0] <= now])
            return self._current

        return _guard(start)

    def current(self) -> JsActivity | None:
        inner = api.current
        if inner is None:
            return None
        if self._current is None or self._current._inner is not inner:
            self._current = JsActivity(inner, [])
        return self._current


def install(options: Any = None) -> Bridge:
    """Called once by ``timeback.js`` with ``{base, configUrl}``."""
    settings = options.to_py() if isinstance(options, JsProxy) else dict(options or {})
    api.configure(
        base=settings.get("base") or "/api/timeback", config_url=settings.get("configUrl")
    )
    return Bridge()
