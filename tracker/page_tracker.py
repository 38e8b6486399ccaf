"""The page's tracker: ``activity.start()``, ``activity.current`` and the one-active rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .activity import Activity, ActivityPorts
from .config import AppConfig
from .errors import ActivityAlreadyRunningError
from .ids import new_uuid
from .models import StartParams
from .outbox import Outbox
from .ports import Clock, PageEvents, Scheduler, Storage, Transport
from .validation import validate
from .wire import HEARTBEAT_PATH, SUBMIT_PATH

DEFAULT_BASE = "/api/timeback"


class Tracker:
    """Everything one page shares: the ports, the app server's base URL, the config and the
    outbox; at most one running activity."""

    def __init__(
        self,
        *,
        clock: Clock,
        scheduler: Scheduler,
        transport: Transport,
        storage: Storage,
        page: PageEvents,
        base_url: str = DEFAULT_BASE,
        config: AppConfig | None = None,
    ) -> None:
        self.clock = clock
        self.scheduler = scheduler
        self.page = page
        self.base_url = base_url.rstrip("/")
        self.config = config
        self.outbox = Outbox(transport, scheduler, storage, clock, base_url=self.base_url)
        self._current: Activity | None = None

    @property
    def current(self) -> Activity | None:
        """The running activity, or ``None``."""
        return self._current

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(
        self,
        params: Mapping[str, Any] | StartParams | None = None,
        /,
        *,
        called_at: int | None = None,
        visibility_history: list[tuple[int, bool]] | None = None,
        **kwargs: Any,
    ) -> Activity:
        """Start an activity; heartbeats begin at once unless ``time=False``.

        ``params`` is the reference page's object (either spelling), or keyword arguments.
        ``called_at`` places the start at an earlier clock time (a call queued during boot,
        B1); ``visibility_history`` lists ``(at, hidden)`` from that time on (B2).
        """
        if self._current is not None:
            raise ActivityAlreadyRunningError(
                f"activity {self._current.id!r} (runId {self._current.run_id}) is still running; "
                "end() it before starting another"
            )
        if isinstance(params, StartParams):
            parsed = params
        else:
            parsed = validate(StartParams, {**dict(params or {}), **kwargs})
        if self.config is not None:
            self.config.find_course(parsed.course)  # raises UnknownCourseError
        run_id = parsed.run_id or new_uuid()
        started = self.clock.now() if called_at is None else min(called_at, self.clock.now())
        ports = ActivityPorts(
            clock=self.clock,
            scheduler=self.scheduler,
            page=self.page,
            outbox=self.outbox,
            heartbeat_url=self.url(HEARTBEAT_PATH),
            submit_url=self.url(SUBMIT_PATH),
            on_ended=self._ended,
        )
        activity = Activity(ports, parsed, run_id, started, visibility_history)
        self._current = activity
        return activity

    def _ended(self, activity: Activity) -> None:
        if self._current is activity:
            self._current = None

    async def resend_stored(self) -> None:
        """P3: deliver windows that earlier page loads left unacknowledged."""
        await self.outbox.drain()
