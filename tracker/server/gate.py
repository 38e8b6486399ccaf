"""The checks every API request passes, in one ASGI layer, and the API's routes called directly.

They were eight nested middleware layers, each with its own ``Request`` and ``send`` wrapper,
then Starlette's router: ~20 us more of a heartbeat's ~285 us of CPU than these plain calls
(issue 12, measured in process). Here they run in the same order, with the same errors:

    host          400 BAD_HOST for a Host not in allowed_hosts (when set)
    origin        403 FORBIDDEN_ORIGIN for a page of another site
    hook          starts the outbox worker in the running loop (a mounted app gets no
                  lifespan events of its own)
    user          asks the app's get_email once
    rate          429 + Retry-After for a user over the POST limit
    body          415 / 413 / 400 for the JSON routes' bodies, parsed once

Every answer, errors included, carries X-Tracker-Subject for a signed-in user (contract 1);
what the checks or the routes raise is rendered by ``errors.ERROR_HANDLERS``, anything else
is a logged 500 INTERNAL_ERROR. A request for a known (method, path) runs its route here;
any other (404, 405, HEAD, a trailing slash) goes on to the Starlette app inside.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import response_for
from .guards import check_host, check_origin, read_json, replay_body, route_path
from .identity import USER_KEY, Identity, with_subject
from .ratelimit import RateLimiter, check_rate

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class GateRules:
    """What the gate checks; ``json_routes`` are (method, path) pairs whose bodies it parses."""

    identity: Identity
    limiter: RateLimiter
    hook: Callable[[], Awaitable[None]]
    body_limit: int
    json_routes: frozenset[tuple[str, str]]
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: frozenset[str] = frozenset()
    limited_methods: Collection[str] = ("POST",)


class ApiGate:
    """ASGI middleware: the checks of ``rules``, then the route of ``routes`` or the app."""

    def __init__(
        self, app: ASGIApp, *, rules: GateRules, routes: Mapping[tuple[str, str], Endpoint]
    ) -> None:
        self.app = app
        self.rules = rules
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rules = self.rules
        started = False

        async def send_with_subject(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                user = scope.get(USER_KEY)
                if user:
                    message = with_subject(message, rules.identity.subject(user))
            await send(message)

        request = Request(scope, receive)
        try:
            check_host(request, rules.allowed_hosts)
            check_origin(request, rules.allowed_origins)
            await rules.hook()
            user = await rules.identity.email(request)
            method = scope["method"]
            if user and method in rules.limited_methods:
                check_rate(rules.limiter, user)
            key = (method, route_path(scope))
            if key in rules.json_routes:
                receive = replay_body(await read_json(request, rules.body_limit), receive)
            endpoint = self.routes.get(key)
            if endpoint is None:
                await self.app(scope, receive, send_with_subject)
                return
            response = await endpoint(request)
        except Exception as exc:
            if started:
                raise  # half a response is out: nothing sensible to add
            response = await response_for(request, exc)
        await response(scope, receive, send_with_subject)
