"""``TimebackServer``: settings, store, pipeline, sink, the ASGI app and ``activity.record()``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from .app import ApiParts, build_app
from .auth import load_secret, shared_secret
from .identity import GetEmail, Identity, no_identity
from .oauth import TokenSource
from .outbox import CaliperSink
from .pipeline import Pipeline, now_ms
from .platform import (
    ActorSource,
    EmbeddedActors,
    OneRosterClient,
    PlatformActors,
    PlatformUrls,
    UserDirectory,
)
from .ratelimit import RateLimiter
from .record import ActivityApi
from .settings import Settings
from .sinks import EmbeddedSink, Sink
from .store import Store


class TimebackServer:
    """The app-server side of the wire protocol.

    ``server.app`` is the ASGI app to mount at ``/api/timeback``; ``server.activity.record()``
    records a completion from backend code. Construction checks the settings, reads
    ``timeback.config.json`` and opens (and migrates) the database, so a bad deployment fails
    here, at start-up, with a ``SettingsError`` or ``StoreError`` that says what is wrong.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        get_email: GetEmail | None = None,
        caliper_transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], int] = now_ms,
        subject_secret: str | None = None,
        rate_clock: Callable[[], float] = time.monotonic,
        store: Store | None = None,
    ) -> None:
        self.settings = settings.checked()
        self.config = self.settings.load_app_config()
        self.get_email: GetEmail = get_email or no_identity
        self._on_close: list[Callable[[], None]] = []
        # store: one opened by the caller (the static demo's in-page MemoryStore).
        forward = self.settings.sink == "caliper"
        self.store = store if store is not None else Store(self.settings.database, forward=forward)
        self.sink: Sink
        if self.settings.sink == "caliper":
            self.sink = CaliperSink(self.store, self.settings, transport=caliper_transport)
        else:
            self.sink = EmbeddedSink()
        self.actors: ActorSource = EmbeddedActors()
        self._roster_client: httpx.AsyncClient | None = None
        if self.settings.mode == "platform":
            self.actors = self._platform_actors(caliper_transport)
        # clock (epoch ms): the server's "now" for window age checks and record() (tests fix it).
        self.pipeline = Pipeline(
            self.config,
            self.settings,
            self.store,
            on_commit=self.sink.notify,
            clock=clock,
            actors=self.actors,
        )
        self.activity = ActivityApi(self.pipeline, before=self.ensure_started, clock=clock)
        # The key of the X-Tracker-Subject tag (contract item 1): the session secret, else the
        # one kept next to the database (made on first start), so tags survive restarts.
        if subject_secret is None:
            database = self.settings.database
            # A PostgreSQL store is shared by workers and hosts: they must all sign with one
            # key, so it comes from the environment rather than a file of one machine.
            subject_secret = (
                load_secret(database.parent) if isinstance(database, Path) else shared_secret()
            )
        self.identity = Identity(self.get_email, subject_secret=subject_secret)
        self.limiter = RateLimiter(
            burst=self.settings.rate_limit_burst,
            per_minute=self.settings.rate_limit_per_minute,
            clock=rate_clock,
        )
        self.app: Starlette = build_app(
            ApiParts(
                settings=self.settings,
                config=self.config,
                store=self.store,
                pipeline=self.pipeline,
                identity=self.identity,
                limiter=self.limiter,
                before_request=self.ensure_started,
                lifespan=self.lifespan,
            )
        )

    def _platform_actors(self, transport: httpx.AsyncBaseTransport | None) -> PlatformActors:
        """Platform mode: users through OneRoster, with their own token (same credentials)."""
        s = self.settings
        assert s.platform_api_url and s.caliper_url and s.token_url  # checked() fills them
        assert s.client_id and s.client_secret
        urls = PlatformUrls(api=s.platform_api_url, caliper=s.caliper_url, token=s.token_url)
        self._roster_client = httpx.AsyncClient(
            transport=transport, timeout=s.request_timeout_s, follow_redirects=False
        )
        tokens = TokenSource(self._roster_client, s.token_url, s.client_id, s.client_secret)
        roster = OneRosterClient(self._roster_client, urls, tokens)
        return PlatformActors(UserDirectory(roster, ttl_s=s.user_cache_ttl_s), urls)

    async def ensure_started(self) -> None:
        """Starts the sink in the running loop if it is not running there yet.

        A mounted sub-app gets no lifespan events from its parent, so the first request (or
        ``record()``) starts the worker; ``lifespan`` starts it earlier and stops it cleanly.
        """
        await self.sink.start()

    async def aclose(self) -> None:
        """Stops the sink; call ``close()`` afterwards to release the database."""
        await self.sink.aclose()
        if self._roster_client is not None:
            await self._roster_client.aclose()

    def on_close(self, callback: Callable[[], None]) -> None:
        """Runs ``callback`` in ``close()`` (what the site opened next to the store)."""
        self._on_close.append(callback)

    def close(self) -> None:
        self.store.close()
        for callback in self._on_close:
            callback()
        self._on_close.clear()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """Use as (or inside) your app's lifespan: starts the outbox worker, stops it on exit."""
        await self.ensure_started()
        try:
            yield
        finally:
            await self.aclose()


def create_app(settings: Settings, *, get_email: GetEmail | None = None) -> Starlette:
    """The API as a Starlette app; ``app.state.timeback`` is the TimebackServer (for record())."""
    server = TimebackServer(settings, get_email=get_email)
    server.app.state.timeback = server
    return server.app
