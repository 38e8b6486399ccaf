"""``activity`` for Python lesson pages (PyScript): the reference API in Python spelling."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import js
from pyodide.ffi import JsException

from ..activity import Activity
from ..config import AppConfig, parse_config
from ..errors import TrackerError
from ..page_tracker import DEFAULT_BASE, Tracker
from .clock import PerformanceClock
from .page import DocumentEvents
from .storage import LocalStorage
from .timers import BrowserScheduler
from .transport import FetchTransport

log = logging.getLogger("tracker")


async def fetch_config(url: str) -> AppConfig | None:
    """The app's ``timeback.config.json``; without it courses are checked by the server only."""
    try:
        response = await js.fetch(url, js.Object.fromEntries([["credentials", "same-origin"]]))
        if not response.ok:
            log.warning(
                "tracker: %s answered %s; courses are not checked here", url, response.status
            )
            return None
        return parse_config(json.loads(str(await response.text())))
    except (JsException, ValueError, TrackerError) as exc:
        log.warning("tracker: could not use %s: %s", url, exc)
        return None


class ActivityAPI:
    """One per page: ``configure()`` once, ``await ready()``, then ``start()``."""

    def __init__(self) -> None:
        self._base = DEFAULT_BASE
        self._config_url: str | None = None
        self._tracker: Tracker | None = None
        self._config: AppConfig | None = None
        self._resend: asyncio.Future[None] | None = None

    def configure(self, *, base: str = DEFAULT_BASE, config_url: str | None = None) -> None:
        """Where the app server's routes live and where its config is (before ``ready()``)."""
        self._base = base
        self._config_url = config_url

    async def ready(self) -> None:
        """Load the config, and start delivering windows that earlier page loads left
        behind (P3) without waiting for them: a slow server must not delay the lesson."""
        if self._config_url and self._config is None:
            self._config = await fetch_config(self._config_url)
        tracker = self.tracker
        tracker.config = self._config
        if self._resend is None:
            self._resend = asyncio.ensure_future(tracker.resend_stored())

    @property
    def tracker(self) -> Tracker:
        if self._tracker is None:
            self._tracker = Tracker(
                clock=PerformanceClock(),
                scheduler=BrowserScheduler(),
                transport=FetchTransport(),
                storage=LocalStorage(),
                page=DocumentEvents(),
                base_url=self._base,
                config=self._config,
            )
        return self._tracker

    def start(self, params: Mapping[str, Any] | None = None, /, **kwargs: Any) -> Activity:
        """Start an activity (see the reference page); raises while another one runs."""
        return self.tracker.start(params, **kwargs)

    @property
    def current(self) -> Activity | None:
        return self._tracker.current if self._tracker else None


activity = ActivityAPI()
