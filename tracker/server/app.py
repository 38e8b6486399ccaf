"""The four routes of wire §1 as a Starlette app, to mount at ``/api/timeback``.

The routes receive the pieces they use (``ApiParts``), not the server object, so this module
imports nothing of ``server.py``. Every request passes, in order:

    CORSMiddleware     only with allowed_origins: preflights and CORS headers for them
    ApiGate            host, origin, the outbox hook, the user, the rate limit and the JSON
                       body, as plain calls in one layer (gate.py); X-Tracker-Subject on every
                       answer to a signed-in user; the four routes called directly
    routes             401 from Identity, then the request models of ``inbound.py``;
                       403 RUN_OWNED_BY_ANOTHER_USER / UNVERIFIED_REPLAY from the pipeline
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..config import AppConfig
from ..wire import HEARTBEAT_PATH, ME_PATH, REPLAY_HEADER, SUBMIT_PATH, VERIFY_PATH
from .errors import ERROR_HANDLERS, invalid, json_response
from .gate import ApiGate, GateRules
from .guards import json_body
from .identity import Identity
from .inbound import CompletionIn, WindowIn
from .pipeline import Pipeline
from .platform import ActorSource
from .profile import Day, profile
from .ratelimit import RateLimiter
from .settings import Settings
from .store import Store

NO_STORE = {"Cache-Control": "no-store"}
# Contract item 4 (issue 9): this server's window dedupe never forgets (the time ledger's
# UNIQUE key), so a tracker may resend a kept window of any age here. The official server
# forgets after 5 minutes and sends no such header.
LASTING_DEDUPE = {"X-Tracker-Dedupe": "lasting"}


@dataclass(frozen=True)
class ApiParts:
    """What the API routes need; ``TimebackServer`` builds one, tests may build their own."""

    settings: Settings
    config: AppConfig
    store: Store
    pipeline: Pipeline
    identity: Identity
    limiter: RateLimiter
    # Awaited before every request: starts the outbox worker in the running loop.
    before_request: Callable[[], Awaitable[None]]
    lifespan: Callable[[Any], AbstractAsyncContextManager[None]] | None = None


class ActivityRoutes:
    """POST heartbeat and submit: a signed-in user's window or completion into the pipeline."""

    def __init__(self, pipeline: Pipeline, identity: Identity) -> None:
        self.pipeline = pipeline
        self.identity = identity

    async def heartbeat(self, request: Request) -> Response:
        user = await self.identity.require(request)
        replay = request.headers.get(REPLAY_HEADER)
        window = WindowIn.parse(user, json_body(request), replay=replay)
        if await self.pipeline.heartbeat(window):
            return json_response(200, {"duplicate": True}, LASTING_DEDUPE)
        return Response(status_code=204, headers=LASTING_DEDUPE)

    async def submit(self, request: Request) -> Response:
        user = await self.identity.require(request)
        await self.pipeline.submit(CompletionIn.parse(user, json_body(request)))
        return Response(status_code=204)


class UserRoutes:
    """GET verify and me: who is signed in, and their profile."""

    def __init__(
        self,
        identity: Identity,
        store: Store,
        config: AppConfig,
        settings: Settings,
        now: Callable[[], int],
        actors: ActorSource,
    ) -> None:
        self.identity = identity
        # Embedded or platform users (issue 9): verify's timebackId, me's roster fields.
        self.actors = actors
        self.store = store
        self.config = config
        self.env = settings.env
        self.now = now

    async def verify(self, request: Request) -> Response:
        email = await self.identity.require(request)
        # The official answer {verified, timebackId}, and ours (email, actorId) beside it.
        answer = await self.actors.verify(email)
        return json_response(200, answer, NO_STORE)

    async def me(self, request: Request) -> Response:
        email = await self.identity.require(request)
        zone_name = request.query_params.get("tz") or "UTC"
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise invalid("tz", "is not an IANA time zone, e.g. Europe/Berlin") from None
        day = Day.containing(self.now(), zone)
        config, env = self.config, self.env
        user = await self.actors.roster_user(email)
        data = await self.store.aread(lambda tx: profile(tx, config, env, email, day, user=user))
        return json_response(200, data, NO_STORE)


# What the tracker reads from an answer (delivery rules) must be exposed to another origin.
EXPOSED_HEADERS = ("x-tracker-subject", "x-tracker-dedupe", "retry-after")


def cors_middleware(allowed_origins: Collection[str]) -> list[Middleware]:
    """CORS for the origins allowed to call the API (``allowed_origins``): a lesson served
    from another origin than the API (``data-base`` elsewhere) sends its session cookie
    (credentials) and its JSON, and reads the answers' delivery headers. None when the
    API is for its own origin only (the default)."""
    if not allowed_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(allowed_origins),
            allow_credentials=True,
            allow_methods=["GET", "POST"],
            # The replay marker of a kept untagged window (tracker/delivery.py).
            allow_headers=["content-type", REPLAY_HEADER.lower()],
            expose_headers=list(EXPOSED_HEADERS),
            max_age=600,
        )
    ]


def build_app(parts: ApiParts) -> Starlette:
    activity = ActivityRoutes(parts.pipeline, parts.identity)
    user = UserRoutes(
        parts.identity,
        parts.store,
        parts.config,
        parts.settings,
        parts.pipeline.now,
        parts.pipeline.actors,
    )
    settings = parts.settings
    routes = {
        ("POST", HEARTBEAT_PATH): activity.heartbeat,
        ("POST", SUBMIT_PATH): activity.submit,
        ("GET", VERIFY_PATH): user.verify,
        ("GET", ME_PATH): user.me,
    }
    rules = GateRules(
        identity=parts.identity,
        limiter=parts.limiter,
        hook=parts.before_request,
        body_limit=settings.max_body_bytes,
        json_routes=frozenset({("POST", HEARTBEAT_PATH), ("POST", SUBMIT_PATH)}),
        allowed_hosts=tuple(settings.allowed_hosts),
        allowed_origins=frozenset(settings.allowed_origins),
    )
    return Starlette(
        # The gate calls these itself; Starlette's router answers the rest (HEAD, 404, 405).
        routes=[Route(path, call, methods=[method]) for (method, path), call in routes.items()],
        middleware=[
            # Outermost: a preflight from an allowed origin is answered before any check.
            *cors_middleware(settings.allowed_origins),
            Middleware(ApiGate, rules=rules, routes=routes),
        ],
        exception_handlers=dict(ERROR_HANDLERS),
        lifespan=parts.lifespan,
    )
